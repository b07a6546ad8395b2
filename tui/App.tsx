import { Box, Text, useApp, useStdout } from "ink";
import { useEffect, useState } from "react";
import type { AdminClient } from "../src/admin-client/index.ts";
import { fit, wrapText } from "./components/text.ts";
import { SCREENS, type ScreenDefinition } from "./screens/index.ts";
import { KeysPaused, useKeys } from "./components/useKeys.ts";

/** The terminal's size, following resizes. */
function useTerminalSize(): { columns: number; rows: number } {
  const stdout = useStdout().stdout as NodeJS.WriteStream;
  const read = () => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on("resize", onResize);
    return () => void stdout.off("resize", onResize);
  }, [stdout]);
  return size;
}

/**
 * The gateway's URL as the client knows it now. The client follows a local gateway that restarted on another port
 * (server.url), but nothing told the shell: the header kept naming the old port until another screen was opened.
 */
function useClientUrl(client: AdminClient): string {
  const [url, setUrl] = useState(client.url);
  useEffect(() => {
    const timer = setInterval(() => setUrl(client.url), 1000);
    return () => clearInterval(timer);
  }, [client]);
  return url;
}

/**
 * The footer: every screen's key with its title, shortened to fit the width. While a form or view holds the
 * keyboard, those keys (and q) reach it, not the shell: the footer says how to get back to them instead.
 */
function footerText(screens: ScreenDefinition[], width: number, capturing: boolean): string {
  if (capturing) return fit("Esc back · the screen keys, ? help and q quit work again from there", width);
  const tail = "? help  q quit";
  const full = [...screens.map((s) => `${s.key} ${s.title}`), tail].join("  ");
  if (full.length <= width) return full;
  const short = [...screens.map((s) => `${s.key} ${s.short}`), "? help", "q quit"].join(" ");
  return fit(short, width);
}

const MIN_COLUMNS = 60;
const MIN_ROWS = 16;

export function App(props: { client: AdminClient; screens?: ScreenDefinition[] }) {
  const screens = props.screens ?? SCREENS;
  const { exit } = useApp();
  const { columns, rows } = useTerminalSize();
  const url = useClientUrl(props.client);
  const [current, setCurrent] = useState(screens[0]!);
  const [help, setHelp] = useState(false);
  const [capturing, setCapturing] = useState(false);

  const tooSmall = columns < MIN_COLUMNS || rows < MIN_ROWS;
  useKeys(
    (input, key) => {
      if (input === "q" || (key.ctrl && input === "c")) return exit();
      if (tooSmall) return;
      if (key.escape && help) return setHelp(false);
      // Screen keys are plain letters: Ctrl-S pressed once a form has closed (or Ctrl-L) moved to a screen.
      if (key.ctrl) return;
      if (input === "?") return setHelp((h) => !h);
      const next = screens.find((s) => s.key === input);
      if (next) {
        setHelp(false);
        setCurrent(next);
      }
    },
    // While the terminal is too small even a screen with a form open lets q quit, as the message says.
    // Taking pastes here keeps bracketed paste on everywhere: text pasted over a list arrives as a paste, which
    // only a text field takes, not as keys (pasting "deq" there deleted and quit).
    { isActive: !capturing || tooSmall, modifiers: true, onPaste: () => {} },
  );

  const width = Math.max(20, columns - 2);
  const height = Math.max(5, rows - 4);
  const Screen = current.Component;
  // Tables and forms would overlap when the terminal is too small: say so rather than draw garbage. Wrapped, not cut
  // (at 50 columns the cut took away what to do). The screen stays mounted, hidden and deaf, so that a form open
  // with what was typed into it comes back when the terminal grows again; unmounting it lost both.
  const tooSmallLines = tooSmall ? wrapText(`The terminal is ${columns}×${rows}; mintgate tui needs at least ${MIN_COLUMNS}×${MIN_ROWS}. Enlarge it, or q quits.`, Math.max(1, columns), Math.max(1, rows - 1)) : [];
  return (
    <Box flexDirection="column" width={columns}>
      {tooSmallLines.map((line, i) => (
        <Text key={i}>{line}</Text>
      ))}
      <Box display={tooSmall ? "none" : "flex"} flexDirection="column" width={columns}>
        <Box paddingX={1}>
          <Text inverse bold> mintgate </Text>
          <Text> {fit(`${current.title} · ${url}`, width - 11)}</Text>
        </Box>
        <Box flexDirection="column" paddingX={1} height={height}>
          {help ? (
            <Box flexDirection="column" borderStyle="round" paddingX={1}>
              <Text bold>{current.title}: keys</Text>
              {current.help.flatMap((line) => wrapText(line, width - 4, 4)).map((line, i) => (
                <Text key={i}>{line}</Text>
              ))}
              <Text dimColor>{fit("Screen keys are in the footer. ? or Esc closes this help.", width - 4)}</Text>
            </Box>
          ) : null}
          {/* The screen stays mounted under the help (its search, selection and open view are kept), hidden and deaf. */}
          <KeysPaused.Provider value={help || tooSmall}>
            <Box display={help ? "none" : "flex"} flexDirection="column">
              <Screen key={current.key} client={props.client} width={width} height={height} setCapturing={setCapturing} />
            </Box>
          </KeysPaused.Provider>
        </Box>
        <Box paddingX={1}>
          <Text dimColor>{footerText(screens, width, capturing && !tooSmall)}</Text>
        </Box>
      </Box>
    </Box>
  );
}
