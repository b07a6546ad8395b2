import { overviewScreen } from "./OverviewScreen.tsx";
import { virtualMcpsScreen } from "./VirtualMcpsScreen.tsx";
import { liveCallsScreen } from "./LiveCalls.tsx";
import { auditScreen } from "./Audit.tsx";
import { peopleScreen } from "./PeopleScreen.tsx";
import { ssoScreen } from "./SsoScreen.tsx";
import { connectorsScreen } from "./connectors/ConnectorsScreen.tsx";
import { secretsScreen } from "./connectors/SecretsScreen.tsx";
import type { ScreenDefinition } from "./types.ts";

export type { ScreenDefinition, ScreenProps } from "./types.ts";

/** Every screen, in footer order. */
export const SCREENS: ScreenDefinition[] = [
  overviewScreen,
  liveCallsScreen,
  virtualMcpsScreen,
  connectorsScreen,
  secretsScreen,
  peopleScreen,
  ssoScreen,
  auditScreen,
];
