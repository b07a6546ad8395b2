import { Box, Text } from "ink";
import { wrapText } from "./text.ts";

/** Lines a Problem may take: what to do about an error is usually at the end of its sentence. */
const PROBLEM_LINES = 3;

/** The lines `text` takes as a Problem beyond the one a message line has: what the screen's list or table gives up for it. */
export function problemExtraLines(text: string | undefined, width: number): number {
  return text ? wrapText(text, width, PROBLEM_LINES).length - 1 : 0;
}

/** An error sentence in red, wrapped onto up to three lines: what to do about it is usually at its end. */
export function Problem(props: { text: string; width: number }) {
  return (
    <Box flexDirection="column">
      {wrapText(props.text, props.width, PROBLEM_LINES).map((line, i) => (
        <Text key={i} color="red">
          {line}
        </Text>
      ))}
    </Box>
  );
}
