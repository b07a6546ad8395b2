import { Box, Text } from "ink";
import { useKeys } from "./useKeys.ts";

/** Asks before a destructive action: y confirms, n or Esc cancels. */
export function Confirm(props: { message: string; onYes: () => void; onNo: () => void }) {
  useKeys((input, key) => {
    if (input === "y" || input === "Y") props.onYes();
    else if (input === "n" || input === "N" || key.escape) props.onNo();
  });
  return (
    <Box borderStyle="round" paddingX={1}>
      <Text>
        {props.message} <Text bold>[y/n]</Text>
      </Text>
    </Box>
  );
}
