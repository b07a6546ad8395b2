import type { ReactElement } from "react";
import type { AdminClient } from "../../src/admin-client/index.ts";

export interface ScreenProps {
  client: AdminClient;
  /** Columns and rows available to the screen (the header and footer are outside). */
  width: number;
  height: number;
  /**
   * A screen with a form or an inline filter open says so: while it captures,
   * the app's single-key shortcuts (screen keys, ?, q) go to the screen instead.
   */
  setCapturing: (capturing: boolean) => void;
}

export interface ScreenDefinition {
  /** The single key that opens it, shown in the footer. */
  key: string;
  title: string;
  /** Short label for narrow terminals. */
  short: string;
  /** Lines of the `?` help overlay: keys and what they do. */
  help: string[];
  Component: (props: ScreenProps) => ReactElement;
}
