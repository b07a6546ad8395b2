import { Box, Text } from "ink";
import { wrapText } from "./text.ts";

/** An error sentence in red, wrapped onto up to three lines: what to do about it is usually at its end. */
export function Problem(props: { text: string; width: number }) {
  return (
    <Box flexDirection="column">
      {wrapText(props.text, props.width, 3).map((line, i) => (
        <Text key={i} color="red">
          {line}
        </Text>
      ))}
    </Box>
  );
}
