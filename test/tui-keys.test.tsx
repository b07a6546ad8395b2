import { describe, expect, spyOn, test } from "bun:test";
import { Box, Text } from "ink";
import { render } from "ink-testing-library";
import { useEffect, useState } from "react";
import { Form } from "../tui/components/Form.tsx";
import { TextField } from "../tui/components/TextField.tsx";
import { breakLines, columnsOf, fit, formatTime, wrapText } from "../tui/components/text.ts";
import { Confirm } from "../tui/components/Confirm.tsx";
import { frameContaining, paste, press } from "./fixtures/ink-keys.ts";
import { waitFor } from "./harness.ts";
import { log } from "../src/log/index.ts";
import { Problem } from "../tui/components/Problem.tsx";
import { useKeys } from "../tui/components/useKeys.ts";
import { stripColour } from "../tui/index.tsx";

/**
 * The shape of every TUI screen: the list's keys are off while something
 * else has the keyboard (here a "busy" spell that ends on its own, as an
 * admin API call does). `j` is a list key.
 */
function BusyList({ seen, busyMs }: { seen: string[]; busyMs: number }) {
  const [busy, setBusy] = useState(true);
  useEffect(() => {
    const timer = setTimeout(() => setBusy(false), busyMs);
    return () => clearTimeout(timer);
  }, [busyMs]);
  useKeys(
    (input) => {
      seen.push(input);
    },
    { isActive: !busy },
  );
  return <Text>{busy ? "busy" : "list"}</Text>;
}

describe("useKeys", () => {
  test("a key pressed as soon as the screen shows it is ready is not lost", async () => {
    const seen: string[] = [];
    const { stdin, lastFrame, unmount } = render(<BusyList seen={seen} busyMs={30} />);
    // Press the key the moment the frame says "list", as a person who types ahead does.
    const deadline = performance.now() + 2000;
    while (lastFrame() !== "list" && performance.now() < deadline) await Bun.sleep(0);
    expect(lastFrame()).toBe("list");
    stdin.write("j");
    await Bun.sleep(30);
    expect(seen).toEqual(["j"]);
    unmount();
  });

  test("keys for an inactive handler are ignored", async () => {
    const seen: string[] = [];
    const { stdin, unmount } = render(<BusyList seen={seen} busyMs={60_000} />);
    await Bun.sleep(20);
    stdin.write("j");
    await Bun.sleep(20);
    expect(seen).toEqual([]);
    unmount();
  });
});

/** A list whose `n` opens a form that records what it hears, as a screen's `n` opens its add form. */
function ListThenForm({ seen }: { seen: string[] }) {
  const [open, setOpen] = useState(false);
  useKeys((input) => (input === "n" ? setOpen(true) : void seen.push(`list:${input}`)), { isActive: !open });
  return open ? <Heard seen={seen} /> : <Text>list</Text>;
}

function Heard({ seen }: { seen: string[] }) {
  useKeys((input, key) => void seen.push(key.return ? "form:Enter" : `form:${input}`), { modifiers: true });
  return <Text>form</Text>;
}

describe("keys read together", () => {
  test("are each a key, in order, heard by what the key before them opened; a bracketed paste is not keys", async () => {
    const seen: string[] = [];
    const { stdin, unmount } = render(
      <>
        <ListThenForm seen={seen} />
        <PasteSink />
      </>,
    );
    await Bun.sleep(20);
    // Pasted over the list (with something taking pastes, as the App does): nothing happens.
    stdin.write(paste("jjn"));
    await Bun.sleep(30);
    expect(seen).toEqual([]);
    stdin.write("jjnab\r");
    await waitFor("all five keys", () => seen.length >= 5, 40, 10);
    expect(seen).toEqual(["list:j", "list:j", "form:a", "form:b", "form:Enter"]);
    unmount();
  });
});

/** Takes pastes and drops them, as the App does so that bracketed paste is on over lists. */
function PasteSink() {
  useKeys(() => {}, { onPaste: () => {} });
  return null;
}

describe("Form", () => {
  const fields = [
    { name: "name", label: "Name" },
    { name: "url", label: "URL" },
    { name: "note", label: "Note" },
  ];

  async function submitted(keys: string[], initial?: Record<string, string>): Promise<Record<string, string>> {
    let sent: Record<string, string> | undefined;
    const { stdin, unmount } = render(<Form title="t" fields={fields} height={20} initial={initial} onCancel={() => {}} onSubmit={async (values) => void (sent = values)} />);
    await Bun.sleep(20);
    for (const key of keys) {
      stdin.write(key);
      await Bun.sleep(20);
    }
    stdin.write("\u0013");
    // Keys read together are handled one a turn, so the Ctrl-S may wait behind them.
    await waitFor("the form to be submitted", () => sent !== undefined, 40, 10);
    unmount();
    return sent!;
  }

  test("a paste with Tabs in it fills one field after another, as typing the same would", async () => {
    expect(await submitted([paste("alpha\thttp://x.example\tthe note")])).toEqual({ name: "alpha", url: "http://x.example", note: "the note" });
    // Typed one key at a time, or read together, the same text lands the same way.
    expect(await submitted([..."ab", "\t", ..."cd"])).toEqual({ name: "ab", url: "cd", note: "" });
    expect(await submitted(["ab\tcd"])).toEqual({ name: "ab", url: "cd", note: "" });
    // Pieces past the last field are dropped; what is there already is kept and added to.
    expect(await submitted([paste("x\ty\tz\textra")], { name: "n-", url: "", note: "" })).toEqual({ name: "n-x", url: "y", note: "z" });
    // Other control characters never enter a value.
    expect(await submitted(["a\u0007b\nc"])).toEqual({ name: "abc", url: "", note: "" });
  });

  test("keys read together count one by one, in order: text and Enter in one read submits it", async () => {
    const sent: Record<string, string>[] = [];
    const { stdin, lastFrame, unmount } = render(<Form title="t" fields={fields} height={20} onCancel={() => {}} onSubmit={async (values) => void sent.push(values)} />);
    await Bun.sleep(20);
    // A script or a fast typist: text, ↓ to the next field, text, Enter (next field), text, Enter on the last field.
    stdin.write("ab\u001b[Bcd\ref\r");
    await waitFor("the form to be submitted", () => sent.length === 1);
    expect(sent[0]).toEqual({ name: "ab", url: "cd", note: "ef" });
    // A bracketed paste (the terminal marks pasted text) is only text: its line break does not submit a half-typed form.
    stdin.write(paste("more\r"));
    await frameContaining(lastFrame, "efmore");
    await Bun.sleep(30);
    expect(sent).toHaveLength(1);
    unmount();
  });
});

describe("TextField", () => {
  test("a secret (masked) field keeps the line breaks of pasted text; a plain field drops them", async () => {
    const values: Record<string, string> = {};
    const Field = ({ mask }: { mask: boolean }) => {
      const [value, setValue] = useState("");
      values[String(mask)] = value;
      return <TextField value={value} onChange={setValue} focus mask={mask} />;
    };
    const pem = "-----BEGIN KEY-----\rAAAABBBB\r\n-----END KEY-----";
    for (const mask of [true, false]) {
      const { stdin, lastFrame, unmount } = render(<Field mask={mask} />);
      stdin.write(paste(pem));
      await Bun.sleep(30);
      if (mask) expect(lastFrame()).not.toContain("AAAA");
      unmount();
    }
    expect(values.true).toBe("-----BEGIN KEY-----\nAAAABBBB\n-----END KEY-----");
    expect(values.false).toBe("-----BEGIN KEY-----AAAABBBB-----END KEY-----");
  });
});

describe("TextField editing", () => {
  test("the cursor moves with ← → Home End; typing inserts there; Backspace and Ctrl-W delete before it", async () => {
    let value = "";
    const Field = () => {
      const [v, setV] = useState("https://mcp.example.com/mcp");
      value = v;
      return <TextField value={v} onChange={setV} focus width={60} />;
    };
    const { stdin, lastFrame, unmount } = render(<Field />);
    const key = async (k: string) => {
      stdin.write(k);
      await Bun.sleep(15);
    };
    for (let i = 0; i < 4; i++) await key("\u001b[D"); // ← four times: before "/mcp"
    await key("/v2");
    expect(value).toBe("https://mcp.example.com/v2/mcp");
    await key("\u0001"); // Ctrl-A: start
    await key("\u001b[C"); // →
    await key("\u007f"); // Backspace deletes the h
    expect(value).toBe("ttps://mcp.example.com/v2/mcp");
    await key("h");
    await key("\u0005"); // Ctrl-E: end
    await key("\u0017"); // Ctrl-W: the word before the cursor
    expect(value).toBe("");
    await key("abc def");
    await key("\u0017");
    expect(value).toBe("abc ");
    expect(lastFrame()).toContain("abc");
    unmount();
  });
});

describe("TextField with wide characters", () => {
  test("CJK and emoji are stepped over and deleted whole, and the field stays within its width in terminal columns", async () => {
    let value = "";
    const Field = (props: { focus: boolean }) => {
      const [v, setV] = useState("");
      value = v;
      return <TextField value={v} onChange={setV} focus={props.focus} width={20} />;
    };
    const { stdin, lastFrame, rerender, unmount } = render(<Field focus />);
    const key = async (k: string) => {
      stdin.write(k);
      await Bun.sleep(15);
    };
    await key("ab🚀");
    await key("\u007f"); // Backspace: the whole emoji, not half of its surrogate pair
    expect(value).toBe("ab");
    await key("🚀c");
    await key("\u001b[D"); // ← over c
    await key("\u001b[D"); // ← over the emoji
    await key("x");
    expect(value).toBe("abx🚀c");
    await key("\u0005");
    await key("名前ツール 🚀 名前ツール 🚀 名前ツール");
    for (const frame of [lastFrame()!, (rerender(<Field focus={false} />), await Bun.sleep(15), lastFrame()!)]) {
      expect(frame.split("\n")).toHaveLength(1);
      expect(Bun.stringWidth(frame.replace(/\u001b\[[0-9;]*m/g, ""))).toBeLessThanOrEqual(20);
      expect(frame).toContain("…");
    }
    unmount();
  });
});

describe("NO_COLOR", () => {
  test("colour is taken out of the output; bold, dim and inverse (the selected row, a field's cursor) stay", () => {
    expect(stripColour("\u001b[7mselected\u001b[27m \u001b[31m✗ failed\u001b[39m \u001b[1;36mtitle\u001b[22;39m")).toBe("\u001b[7mselected\u001b[27m ✗ failed \u001b[1mtitle\u001b[22m");
    expect(stripColour("\u001b[38;5;196mx\u001b[48;2;1;2;3;2my\u001b[0m\u001b[m")).toBe("x\u001b[2my\u001b[0m\u001b[m");
  });
});

describe("formatTime", () => {
  test("a time within the last day shows as HH:MM:SS; a future one (an expiry) and an older one show their date", () => {
    const now = Date.now();
    expect(formatTime(now - 60_000)).toMatch(/^\d\d:\d\d:\d\d$/);
    expect(formatTime(now + 30 * 86_400_000)).toBe(new Date(now + 30 * 86_400_000).toISOString().slice(0, 16).replace("T", " "));
    expect(formatTime(now + 60_000)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    expect(formatTime(now - 3 * 86_400_000)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
  });
});

describe("text others chose, on its way to a terminal", () => {
  // A tool name is whatever an MCP client called; an upstream's stderr line is whatever it printed.
  const hostile = "x\u001b[31mRED\u001b[0m\u202e\u0085\u2028y";

  test("the TUI shows escape sequences, bidi overrides and line separators as escapes, cut and padded by what is shown", () => {
    expect(fit(hostile, 80)).toBe("x\\u001b[31mRED\\u001b[0m\\u202e\\u0085\\u2028y");
    expect(fit("a\nb\tc", 10, { pad: true })).toBe("a b c     ");
    expect(fit(hostile, 8)).toBe("x\\u001b…");
    const broken = breakLines([hostile], 12).join("");
    expect(broken).not.toMatch(/[\u001b\u202e\u0085\u2028]/);
    expect(fit("plain é ✓ text", 40)).toBe("plain é ✓ text");
  });

  test("the log writes such a value escaped, on one line", () => {
    const lines: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      log.warn("upstream stderr", { line: hostile, plain: "ok-value", spaced: "a b" });
    } finally {
      process.stderr.write = write;
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/[\u001b\u202e\u0085\u2028]/);
    expect(lines[0]).toContain(" plain=ok-value ");
    expect(lines[0]).toContain(' spaced="a b"');
    expect(lines[0]!.trimEnd().split("\n")).toHaveLength(1);
  });
});

describe("Problem", () => {
  test("a long error is wrapped, so the advice at its end is on screen", () => {
    const text = "✗ Cannot reach the gateway at http://127.0.0.1:25810 (Unable to connect); is `mintgate serve` running?";
    const { lastFrame, unmount } = render(<Problem text={text} width={40} />);
    const frame = lastFrame()!;
    expect(frame.split("\n").length).toBeGreaterThan(1);
    for (const line of frame.split("\n")) expect(line.length).toBeLessThanOrEqual(40);
    expect(frame.replace(/\s+/g, " ")).toContain("is `mintgate serve` running?");
    unmount();
  });
});

describe("modifier keys", () => {
  test("Ctrl-Y does not confirm a deletion; y does", async () => {
    let yes = 0;
    const { stdin, unmount } = render(<Confirm message="Delete it?" onYes={() => yes++} onNo={() => {}} />);
    await press(stdin, "\u0019");
    expect(yes).toBe(0);
    await press(stdin, "y");
    expect(yes).toBe(1);
    unmount();
  });
});

describe("Form layout", () => {
  test("a placeholder longer than its field is cut with …: it wrapped, and the label beside it lost its padding", () => {
    const fields = [
      { name: "domains", label: "Allowed domains" },
      { name: "trust", label: "Trust emails", placeholder: "no (yes: the provider sends no email_verified but verifies every address)" },
    ];
    const { lastFrame, unmount } = render(
      <Box width={60}>
        <Form title="New provider" fields={fields} width={60} height={20} onCancel={() => {}} onSubmit={async () => {}} />
      </Box>,
    );
    const lines = lastFrame()!.split("\n");
    // Border, title, two fields, the keys line, border: nothing wrapped onto a line of its own.
    expect(lines).toHaveLength(6);
    expect(lines.find((l) => l.includes("Trust emails"))).toMatch(/Trust emails {4}no \(yes: .*…/);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(60);
    unmount();
  });
});

describe("wrapText", () => {
  test("counts terminal columns: CJK text is wrapped at the width, not cut with … as if it were half as long", () => {
    const text = "错误 连接器 无法 启动 请检查 命令 是否 存在 然后 重试";
    const lines = wrapText(text, 20, 5);
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(Bun.stringWidth(line)).toBeLessThanOrEqual(20);
    expect(lines.join(" ").replace(/\s+/g, " ")).toBe(text);
  });
});

describe("emoji with a skin tone", () => {
  test("count as the 4 columns tmux draws them in, so a header holding one is cut rather than wrapped", () => {
    expect(columnsOf("👋🏽")).toBe(4);
    expect(columnsOf("🏽")).toBe(2); // a tone on its own is one emoji
    expect(columnsOf("🚀世")).toBe(4);
    const name = "team · שלום 👋🏽 hello 👋🏿 world and a long tail that goes past the edge";
    const cut = fit(name, 30);
    expect(cut.endsWith("…")).toBe(true);
    // What tmux takes: 2 for the emoji plus 2 for its tone.
    const drawn = [...new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(cut)].reduce((n, { segment }) => n + Bun.stringWidth(segment) + (/[\u{1F3FB}-\u{1F3FF}]/u.test(segment) && segment.length > 2 ? 2 : 0), 0);
    expect(drawn).toBeLessThanOrEqual(30);
  });

  test("are left out of text drawn (Ink pads rows by string-width, which counts 👋🏽 as 2): every measure then agrees", () => {
    expect(fit("wave 👋🏽 from 🧑🏽‍🤝‍🧑🏿", 40)).toBe("wave 👋 from 🧑‍🤝‍🧑");
    expect(breakLines(["x👋🏿y", "🏽 alone"], 20)).toEqual(["x👋y", "🏽 alone"]);
  });
});

describe("fit on long text", () => {
  test("reads a several-KB description only as far as the width, and cuts it as before", () => {
    // Each drawn row of the curate view fits its description: segmenting several KB of emoji text whole, twice,
    // for each of 50 rows made a keypress take ~50 ms (p95 ~60, up to ~110) at 200×60 with 400 such tools.
    const description = ("漢字のテキスト 🚀 emoji 👋🏽 " + "lorem ipsum ".repeat(10)).repeat(20);
    const original = Intl.Segmenter.prototype.segment;
    let read = 0;
    const spy = spyOn(Intl.Segmenter.prototype, "segment").mockImplementation(function (this: Intl.Segmenter, text: string) {
      const segments = original.call(this, text);
      return {
        *[Symbol.iterator]() {
          for (const segment of segments) {
            read++;
            yield segment;
          }
        },
      } as unknown as Intl.Segments;
    });
    try {
      const cut = fit(description, 60);
      expect(read).toBeLessThan(200);
      expect(cut.endsWith("…")).toBe(true);
      expect(description.replaceAll("👋🏽", "👋").startsWith(cut.slice(0, -1))).toBe(true);
      expect(columnsOf(cut)).toBeLessThanOrEqual(60);
      expect(columnsOf(cut)).toBeGreaterThanOrEqual(58);
      expect(fit("👋🏽 short", 60, { pad: true })).toBe("👋 short" + " ".repeat(60 - columnsOf("👋 short")));
    } finally {
      spy.mockRestore();
    }
  });
});
