import { useState } from "react";
import type { ScreenDefinition, ScreenProps } from "./types.ts";
import { VirtualMcpDetail } from "./virtual-mcps/VirtualMcpDetail.tsx";
import { VirtualMcpList } from "./virtual-mcps/VirtualMcpList.tsx";

/** The list of Virtual MCPs, and one of them opened for curating. */
export function VirtualMcpsScreen(props: ScreenProps) {
  const [open, setOpen] = useState<string>();
  const [last, setLast] = useState<string>();
  return open === undefined ? (
    <VirtualMcpList client={props.client} width={props.width} height={props.height} setCapturing={props.setCapturing} onOpen={setOpen} initialSlug={last} />
  ) : (
    <VirtualMcpDetail
      key={open}
      client={props.client}
      slug={open}
      width={props.width}
      height={props.height}
      setCapturing={props.setCapturing}
      onBack={() => {
        setLast(open);
        setOpen(undefined);
      }}
    />
  );
}

export const virtualMcpsScreen: ScreenDefinition = {
  key: "v",
  title: "Virtual MCPs",
  short: "VMCPs",
  help: [
    "List: ↑↓ select · Enter curate · n new · e edit · d delete (y/n) · R reload (r too)",
    "Both lists: PgUp PgDn a page · Home End the first and last · / filter as you type",
    "  (Enter keeps it, Esc clears it; over a filtered list Esc clears it first)",
    "Curating one: ↑↓ select a tool · space include/exclude (saved at once)",
    "r rename · t description override · w who may use it (everyone/users/groups) · R reload",
    "Enter: rules of the tool (allow/deny, argument checks pin, required,",
    "  allowed, pattern, max, maxLength); on a tool waiting for approval: the diff",
    "  (+ new, - approved before), y approves exactly that definition",
    "n attach a connector with a prefix · x detach one (y/n) · Esc back",
    "C connect: its URL and how to add it to each AI client (as `mintgate connect`),",
    "  scrolled with ↑↓ PgUp PgDn; Esc closes",
    "Names are <prefix>__<tool>, at most 64 characters: Len and the rename",
    "  form show the budget. Set column: r renamed, t described, w rules.",
    "The gateway checks every change like mintgate.yaml; a refusal shows why.",
  ],
  Component: VirtualMcpsScreen,
};
