import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AdminClient, locateGateway } from "../src/admin-client/index.ts";
import { printable, shellWord } from "../src/terminal/index.ts";
import { BINARY, cleanEnv, configuredDataDir, freePort, isolatedBinary, REPO_ROOT, runMintgate, startConfiguredGateway, startGateway, tempDir, waitFor } from "./harness.ts";

const ECHO_STDIO = join(REPO_ROOT, "test", "fixtures", "echo-stdio.ts");

const COMMANDS = [
  "serve", "init", "status", "apply", "export", "approve", "connect", "tui", "version",
  "secrets", "secrets set", "secrets list", "secrets delete", "secrets rotate-key",
  "tokens", "tokens create", "tokens list", "tokens revoke",
  "users", "users add", "users list", "users show", "users disable", "users enable", "users set-password", "users set-role",
  "groups", "groups add", "groups remove", "groups list",
  "sso", "sso add", "sso list", "sso test", "sso remove",
  "clients", "clients add", "clients list", "clients remove",
  "consents", "consents list", "consents revoke",
  "sso update", "policy", "policy explain", "stats", "backup", "restore",
  "audit", "audit verify", "audit search", "audit export", "audit prune",
];

describe("mintgate CLI", () => {
  test("--help lists every top-level command", async () => {
    const result = await runMintgate(["--help"]);
    expect(result.code).toBe(0);
    for (const name of COMMANDS.filter((c) => !c.includes(" "))) expect(result.stdout).toContain(`  ${name} `);
  });

  test.each(COMMANDS)("`%s --help` prints its usage and exits 0", async (name) => {
    const result = await runMintgate([...name.split(" "), "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: mintgate ${name}`);
    expect(result.stderr).toBe("");
  });

  test("every command refuses an unknown option and too many arguments: exit 2, nothing on stdout, one sentence on stderr", async () => {
    const leaves = COMMANDS.filter((name) => !COMMANDS.some((other) => other.startsWith(`${name} `)));
    const cwd = tempDir();
    const runs = await Promise.all(leaves.flatMap((name) => [[...name.split(" "), "--bogus"], [...name.split(" "), "one", "two", "three"]].map((args) => runMintgate(args, { cwd }))));
    for (const [i, name] of leaves.entries()) {
      const [unknown, extra] = [runs[2 * i]!, runs[2 * i + 1]!];
      expect(unknown, name).toEqual({ code: 2, stdout: "", stderr: `mintgate: Unknown option --bogus for \`mintgate ${name}\`; see \`mintgate ${name} --help\`.\n` });
      expect([extra.code, extra.stdout, extra.stderr.split("\n").length], name).toEqual([2, "", 2]);
      expect(extra.stderr, name).toStartWith(`mintgate: \`mintgate ${name}\` takes `);
    }
  });

  test("version, plain and --json", async () => {
    const plain = await runMintgate(["version"]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^mintgate \d+\.\d+\.\d+\n$/);
    const json = await runMintgate(["version", "--json"]);
    expect(JSON.parse(json.stdout).version).toBe(plain.stdout.trim().split(" ")[1]);
    // --version is the same command, --json included.
    expect(await runMintgate(["--version"])).toEqual(plain);
    expect(await runMintgate(["--version", "--json"])).toEqual(json);
  });

  test("an unknown command is a usage error (exit 2) with one sentence on stderr", async () => {
    const result = await runMintgate(["frobnicate"]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("mintgate --help");
  });

  test("`help X [Y]` prints what `X [Y] --help` does; `help nonsense` is the unknown-command error", async () => {
    for (const name of ["tokens", "tokens create", "serve"]) {
      const viaHelp = await runMintgate(["help", ...name.split(" ")]);
      expect(viaHelp).toEqual(await runMintgate([...name.split(" "), "--help"]));
      expect(viaHelp.code).toBe(0);
      expect(viaHelp.stdout).toContain(`Usage: mintgate ${name}`);
    }
    const unknown = await runMintgate(["help", "nonsense"]);
    expect(unknown).toEqual(await runMintgate(["nonsense"]));
    expect(unknown.code).toBe(2);
  });

  test("help wins over the other options: `help X --json` and `X --json --bogus -h` print what `X --help` does, exit 0", async () => {
    // A group (whose own options are refused) and a command that has no --json.
    const cases = [["tokens"], ["audit", "export"]];
    const runs = await Promise.all(cases.flatMap((name) => [["help", ...name, "--json"], [...name, "--json", "--bogus", "-h"], [...name, "--help"]].map((args) => runMintgate(args))));
    for (const [i, name] of cases.entries()) {
      const [viaHelp, withOthers, plain] = runs.slice(i * 3, i * 3 + 3);
      expect(plain).toMatchObject({ code: 0, stderr: "" });
      expect(plain!.stdout).toContain(`Usage: mintgate ${name.join(" ")}`);
      expect([viaHelp, withOthers]).toEqual([plain, plain]);
    }
    // After `--` it is an argument (a secret's name here), not a request for help.
    const argument = await runMintgate(["secrets", "delete", "--data", tempDir(), "--", "-h"]);
    expect([argument.code === 0, argument.stdout]).toEqual([false, ""]);
  });

  test("a command group without its subcommand is a usage error: the list goes to stderr, exit 2", async () => {
    const result = await runMintgate(["tokens"]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toStartWith("mintgate tokens needs a subcommand.\n");
    expect(result.stderr).toContain("tokens revoke");
    // With an option of a subcommand (`secrets --data d` meant `secrets list --data d`): the subcommand is what is missing.
    const optionOnly = await runMintgate(["secrets", "--data", "d1"]);
    expect(optionOnly).toEqual({ code: 2, stdout: "", stderr: "mintgate: `mintgate secrets` needs a subcommand before its options (set, list, delete, rotate-key); see `mintgate secrets --help`.\n" });
  });

  test("repeating a change says nothing changed; CLI commands print no gateway log lines", async () => {
    const dir = join(tempDir(), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const created = JSON.parse((await runMintgate(["tokens", "create", "--user", "ada@example.com", "--json", "--data", dir])).stdout) as { id: string };
    const first = await runMintgate(["tokens", "revoke", created.id, "--data", dir]);
    expect(first).toEqual({ code: 0, stdout: `Revoked token ${created.id}.\n`, stderr: "" });
    type Listing = { personal: { id: string; revokedAt: string | null }[] };
    const listed = JSON.parse((await runMintgate(["tokens", "list", "--json", "--data", dir])).stdout) as Listing;
    const revokedAt = listed.personal.find((t) => t.id === created.id)?.revokedAt;
    expect(revokedAt).toBeTruthy();
    const again = await runMintgate(["tokens", "revoke", created.id, "--data", dir]);
    expect(again).toEqual({ code: 0, stdout: `Token ${created.id} was revoked already; nothing changed.\n`, stderr: "" });
    // The first revocation's time stays.
    const relisted = JSON.parse((await runMintgate(["tokens", "list", "--json", "--data", dir])).stdout) as Listing;
    expect(relisted.personal.find((t) => t.id === created.id)?.revokedAt).toBe(revokedAt!);

    expect((await runMintgate(["users", "add", "ada@example.com", "--data", dir], { stdin: "a long enough password\n" })).code).toBe(0);
    const added = await runMintgate(["groups", "add", "ada@example.com", "sales", "--data", dir]);
    expect(added.stdout).toBe('ada@example.com is now in "sales"; groups: sales.\n');
    const repeated = await runMintgate(["groups", "add", "ada@example.com", "sales", "--data", dir]);
    expect(repeated.stdout).toBe('ada@example.com was already in "sales"; nothing changed; groups: sales.\n');
    // Printed by `users list`, the TUI and the audit trail: a C1 control (CSI) or a bidi override is refused, naming it.
    const c1 = await runMintgate(["groups", "add", "ada@example.com", "sales\u009b2J", "--data", dir]);
    expect([c1.code, c1.stderr]).toEqual([2, 'mintgate: The group name "sales\\u009b2J" contains the control character U+009B; remove it: a group name is one line, without control characters or bidirectional controls.\n']);
    const bidi = await runMintgate(["users", "add", "bo@example.com", "--name", "Bo \u202eredda", "--data", dir], { stdin: "a long enough password\n" });
    expect([bidi.code, bidi.stderr]).toEqual([2, "mintgate: A person's name cannot hold the bidirectional control U+202E; remove it: a name is one line, without control characters or bidirectional controls.\n"]);
    // A zero width space would make two names that look alike (one "sales" the policy names, one not): refused as well.
    const zeroWidth = await runMintgate(["groups", "add", "ada@example.com", "sa\u200bles", "--data", dir]);
    expect([zeroWidth.code, zeroWidth.stderr]).toEqual([2, 'mintgate: The group name "sa\\u200bles" contains the invisible character U+200B; remove it: a group name is one line, without control characters or bidirectional controls.\n']);
    // Any script and emoji stay, joined (ZWJ) and in emoji presentation (U+FE0F) included.
    expect((await runMintgate(["users", "add", "bo@example.com", "--name", "Bō 田中 🚀", "--data", dir], { stdin: "a long enough password\n" })).code).toBe(0);
    expect((await runMintgate(["groups", "add", "bo@example.com", "販売 ✨", "--data", dir])).stdout).toBe('bo@example.com is now in "販売 ✨"; groups: 販売 ✨.\n');
    expect((await runMintgate(["groups", "add", "bo@example.com", "👩\u200d💻 ❤\ufe0f", "--data", dir])).stdout).toBe('bo@example.com is now in "👩\u200d💻 ❤\ufe0f"; groups: 販売 ✨, 👩\u200d💻 ❤\ufe0f.\n');
    // Registering a client records an auth event; its info line belongs in a gateway's log, not here.
    const client = await runMintgate(["clients", "add", "--name", "Tool", "--redirect-uri", "https://tool.example.com/cb", "--data", dir]);
    expect(client.code).toBe(0);
    expect(client.stderr).not.toContain("auth event");

    const prune = await runMintgate(["audit", "prune", "--retention-days", "0", "--data", dir]);
    expect(prune.code).toBe(2);
    expect(prune.stderr).toBe('mintgate: --retention-days must be a whole number of days from 1 to 36500, not "0".\n');
  });

  test("the commands that revoke, remove, delete or set a password take --json like the rest", async () => {
    const dir = join(tempDir(), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const run = async (args: string[], stdin?: string) => {
      const result = await runMintgate([...args, "--data", dir], stdin === undefined ? {} : { stdin });
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(0);
      return result.stdout;
    };
    const json = async (args: string[], stdin?: string) => JSON.parse(await run([...args, "--json"], stdin)) as unknown;

    const token = (await json(["tokens", "create", "--user", "ada@example.com"])) as { id: string };
    expect(await json(["tokens", "revoke", token.id])).toEqual({ revoked: token.id, changed: true });
    expect(await json(["tokens", "revoke", token.id])).toEqual({ revoked: token.id, changed: false });

    const client = (await json(["clients", "add", "--name", "Tool", "--redirect-uri", "https://tool.example.com/cb"])) as { clientId: string };
    expect(await json(["clients", "remove", client.clientId])).toEqual({ removed: client.clientId });

    await run(["sso", "add", "corp", "--kind", "oidc", "--issuer", "https://idp.example.com", "--client-id", "c"], "client secret\n");
    expect(await json(["sso", "remove", "corp"])).toEqual({ removed: "corp" });

    await run(["secrets", "set", "api-key"], "value");
    expect(await json(["secrets", "delete", "api-key"])).toEqual({ deleted: "api-key" });

    await run(["users", "add", "Ada@Example.com"], "a long enough password\n");
    expect(await json(["users", "set-password", "ada@example.com"], "another long password\n")).toEqual({ user: "ada@example.com", signInsEnded: 0 });

    // Without --json they still print their sentence.
    expect(await run(["secrets", "set", "api-key"], "value")).toBe("Stored secret api-key (version 1).\n");
    expect(await run(["secrets", "delete", "api-key"])).toBe("Deleted secret api-key.\n");

    // A value too short to be hidden, or short enough to hide ordinary text with it, is stored with a warning saying so.
    const secretWarning = async (value: string) => (await runMintgate(["secrets", "set", "pin", "--data", dir], { stdin: value })).stderr;
    expect(await secretWarning("12")).toBe("mintgate: warning: secret pin is shorter than 4 characters, so it is not hidden where it shows (logs, errors, audit records); store a real credential.\n");
    expect(await secretWarning("true")).toContain("shorter than 8 characters: wherever ordinary text holds it (tool results, audit records) that text is shown as [secret:pin] too.");
    expect(await secretWarning("a-real-credential")).toBe("");
  });

  test("an unknown option names the command's help", async () => {
    const result = await runMintgate(["init", "--bogus"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("mintgate: Unknown option --bogus for `mintgate init`; see `mintgate init --help`.\n");
  });

  test("a command or option a typo or two away is named (did you mean), as mintgate.yaml's unknown keys are", async () => {
    const usageError = (stderr: string) => ({ code: 2, stdout: "", stderr: `mintgate: ${stderr}\n` });
    expect(await runMintgate(["tokns", "list"])).toEqual(usageError('unknown command "tokns"; did you mean `mintgate tokens`?'));
    expect(await runMintgate(["users", "shwo", "a@example.com"])).toEqual(usageError('unknown command "users shwo"; did you mean `mintgate users show`?'));
    expect(await runMintgate(["stats", "--lst", "1h"])).toEqual(usageError("Unknown option --lst for `mintgate stats`; did you mean --last?"));
    // An option left out on purpose says what to use instead (`audit export` streams; one JSON document would be held whole).
    for (const json of ["--json", "--json=1"]) {
      expect(await runMintgate(["audit", "export", "--format", "csv", json])).toEqual(usageError("Unknown option --json for `mintgate audit export`; it writes JSON Lines (one record a line, in constant memory) with --format jsonl."));
    }
    // Nothing close: the list is where to look.
    expect(await runMintgate(["tokens", "zzzzzz"])).toEqual(usageError('unknown command "tokens zzzzzz"; run `mintgate tokens --help` for the list.'));
  });

  test("a missing required option is a usage error that says `needs` and what to give, for every command that has one", async () => {
    const cwd = tempDir();
    for (const args of [["tokens", "create"], ["clients", "add", "--name", "X"], ["consents", "revoke"], ["apply"], ["backup"], ["policy", "explain"], ["audit", "export"]]) {
      const result = await runMintgate(args, { cwd });
      expect([result.code, result.stdout]).toEqual([2, ""]);
      expect(result.stderr).toStartWith(`mintgate: \`mintgate ${args.filter((a) => !a.startsWith("-") && a !== "X").join(" ")}\` needs `);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  test("of two required options, the one missing is named, not both", async () => {
    const cwd = tempDir();
    const cases: [string[], string][] = [
      [["consents", "revoke", "--user", "ada@example.com"], "`mintgate consents revoke` needs --client CLIENT_ID; `mintgate consents list` shows the people and clients."],
      [["consents", "revoke", "--client", "c"], "`mintgate consents revoke` needs --user EMAIL; `mintgate consents list` shows the people and clients."],
      [["consents", "revoke"], "`mintgate consents revoke` needs --user EMAIL and --client CLIENT_ID; `mintgate consents list` shows the people and clients."],
      [["policy", "explain", "--user", "ada@example.com"], "`mintgate policy explain` needs --vmcp SLUG."],
      [["policy", "explain", "--vmcp", "team"], "`mintgate policy explain` needs --user EMAIL."],
    ];
    const results = await Promise.all(cases.map(([args]) => runMintgate(args, { cwd })));
    expect(results).toEqual(cases.map(([, sentence]) => ({ code: 2, stdout: "", stderr: `mintgate: ${sentence}\n` })));
  });

  test("`sso add` refuses a wrong --kind by its value, and another kind's location option instead of dropping it", async () => {
    const add = ["sso", "add", "corp", "--client-id", "c"];
    const cases: [string[], string][] = [
      [["--kind", "saml"], '--kind must be okta, google, entra or oidc, not "saml".'],
      [["--kind", "oidc", "--issuer", "https://idp.example.com", "--domain", "example.okta.com"], "--domain applies to okta providers only; leave it out for --kind oidc."],
      [["--kind", "okta", "--domain", "example.okta.com", "--issuer", "https://idp.example.com"], "--issuer applies to oidc providers only; leave it out for --kind okta."],
      [["--kind", "google", "--allowed-domains", "example.com", "--tenant", "72f988bf-86f1-41af-91ab-2d7cd011db47"], "--tenant applies to entra providers only; leave it out for --kind google."],
      [["--kind", "entra", "--tenant", "72f988bf-86f1-41af-91ab-2d7cd011db47", "--auth-server", "default"], "--auth-server applies to okta providers only; leave it out for --kind entra."],
    ];
    // Refused before the secret is read or a data directory is looked for.
    const results = await Promise.all(cases.map(([args]) => runMintgate([...add, ...args], { cwd: tempDir(), stdin: "client secret\n" })));
    expect(results).toEqual(cases.map(([, sentence]) => ({ code: 2, stdout: "", stderr: `mintgate: ${sentence}\n` })));
  });

  test("options given before the command are refused with the command line to run, not blamed on `serve`", async () => {
    const cases: [string[], string][] = [
      [["--data", "d", "tokens", "list", "--json"], "mintgate tokens list --data d --json"],
      [["--json", "version"], "mintgate version --json"],
      [["--data=d", "users", "show", "ada@example.com"], "mintgate users show --data=d ada@example.com"],
      [["--port", "0", "serve"], "mintgate serve --port 0"],
      // Quoted so the line can be pasted: spaces, a single quote, an empty value, $ and a glob.
      [["--data", "my dir", "clients", "add", "--name", "Ada's App", "--redirect-uri", "https://x.example.com/cb?a=1&b=$HOME"], "mintgate clients add --data 'my dir' --name 'Ada'\\''s App' --redirect-uri 'https://x.example.com/cb?a=1&b=$HOME'"],
      [["--data", "", "users", "show", "*"], "mintgate users show --data '' '*'"],
    ];
    const results = await Promise.all(cases.map(([args]) => runMintgate(args, { cwd: tempDir() })));
    expect(results).toEqual(cases.map(([, line]) => ({ code: 2, stdout: "", stderr: `mintgate: options go after the command; run \`${line}\`.\n` })));
  });

  test("an option's value problem is named as it is: missing, not taken, or starting with a dash", async () => {
    const usage = (command: string) => ` for \`mintgate ${command}\`; see \`mintgate ${command} --help\`.\n`;
    // A short option is named without the comma node:util's message puts after it.
    expect(await runMintgate(["backup", "-o"])).toEqual({ code: 2, stdout: "", stderr: `mintgate: Option -o needs a value${usage("backup")}` });
    expect(await runMintgate(["tokens", "list", "--data"])).toEqual({ code: 2, stdout: "", stderr: `mintgate: Option --data needs a value${usage("tokens list")}` });
    // A flag given a value takes none; it used to be told it "needs a value".
    expect(await runMintgate(["version", "--json=1"])).toEqual({ code: 2, stdout: "", stderr: `mintgate: Option --json takes no value (give it alone)${usage("version")}` });
    // A value starting with "-" was given; it used to be told it "needs a value".
    expect(await runMintgate(["audit", "search", "--limit", "-1"])).toEqual({
      code: 2,
      stdout: "",
      stderr: `mintgate: Option --limit needs a value, and "-1" looks like an option (write --limit=-1 if it is the value)${usage("audit search")}`,
    });
    // An option where the value should be is a missing value.
    expect((await runMintgate(["audit", "search", "--limit", "--json"])).stderr).toBe(`mintgate: Option --limit needs a value${usage("audit search")}`);
  });

  test("`users set-password` without a password shows the set-password command, not `users add`", async () => {
    const dir = join(tempDir(), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    expect((await runMintgate(["users", "add", "ada@example.com", "--data", dir], { stdin: "a long enough password\n" })).code).toBe(0);
    const result = await runMintgate(["users", "set-password", "ada@example.com", "--data", dir], { stdin: "" });
    expect(result).toEqual({
      code: 2,
      stdout: "",
      stderr: "mintgate: No password given: pipe it on standard input, for example `printf '%s\\n' \"$PW\" | mintgate users set-password ada@example.com`.\n",
    });
  });

  test("an empty --data (an unset shell variable) is a usage error, not ./.mintgate", async () => {
    const cwd = tempDir();
    const expected = { code: 2, stdout: "", stderr: "mintgate: --data is empty; give the data directory's path, or leave --data out to use MINTGATE_DATA_DIR or ./.mintgate.\n" };
    expect(await runMintgate(["init", "--data", ""], { cwd })).toEqual(expected);
    expect(existsSync(join(cwd, ".mintgate"))).toBe(false);
    // With ./.mintgate there, `--data "$DIR"` used to act on it.
    expect((await runMintgate(["init"], { cwd })).code).toBe(0);
    for (const args of [["tokens", "list", "--json"], ["restore", "backup.db"], ["status"]]) {
      expect(await runMintgate([...args, "--data", ""], { cwd }), args.join(" ")).toEqual(expected);
    }
  });

  test("`approve` of a virtual MCP the gateway does not have says where the slugs are listed", async () => {
    const dataDir = join(tempDir(), "data");
    const gateway = await startGateway({ dataDir });
    try {
      for (const args of [["approve", "nope", "some-tool"], ["approve", "nope", "--all", "--json"]]) {
        expect(await runMintgate([...args, "--data", dataDir]), args.join(" ")).toEqual({
          code: 1,
          stdout: "",
          stderr: 'mintgate: There is no virtual MCP "nope"; `mintgate export` lists them.\n',
        });
      }
    } finally {
      await gateway.stop();
    }
  });

  test("`connect` prints each client's steps with the gateway's public URL, or its listen URL with a warning; --json, --client and unknown names", async () => {
    const config = { connectors: [{ name: "demo", kind: "builtin", server: "demo" }], virtualMcps: [{ slug: "sales", name: "Sales", access: { everyone: true }, connectors: [{ connector: "demo" }] }] };
    const [publicDir, localDir] = await Promise.all([configuredDataDir(config, { label: "connect-public" }), configuredDataDir(config, { label: "connect-local" })]);
    const [publicGateway, localGateway] = await Promise.all([startGateway({ dataDir: publicDir, args: ["--public-url", "https://mcp.example.com/"] }), startGateway({ dataDir: localDir })]);
    try {
      const url = "https://mcp.example.com/mcp/sales";
      const text = await runMintgate(["connect", "sales", "--data", publicDir]);
      expect([text.code, text.stderr]).toEqual([0, ""]);
      expect(text.stdout).toStartWith(`Virtual MCP "sales" (Sales): ${url}\n`);
      expect(text.stdout).toContain(`  claude mcp add --transport http sales ${url}\n`);
      expect(text.stdout).toContain(`  npx mcp-remote ${url}\n`);
      expect(text.stdout).toContain("`mintgate tokens create --user EMAIL --vmcp sales`");
      // The pasted snippets are JSON that holds the URL.
      const block = (title: string, end: string) => JSON.parse(text.stdout.slice(text.stdout.indexOf(title) + title.length, text.stdout.indexOf(end, text.stdout.indexOf(title))));
      expect(block("Cursor (~/.cursor/mcp.json)\n", "\n\n")).toEqual({ mcpServers: { sales: { type: "http", url } } });
      expect(block("VS Code (.vscode/mcp.json)\n", "  or run:")).toEqual({ servers: { sales: { type: "http", url } } });
      expect(JSON.parse(text.stdout.match(/or run: code --add-mcp '(.*)'\n/)![1]!)).toEqual({ name: "sales", type: "http", url });

      const json = await runMintgate(["connect", "sales", "--json", "--data", publicDir]);
      const parsed = JSON.parse(json.stdout) as { virtualMcp: string; url: string; clients: Record<string, { title: string; command?: string; config?: unknown }>; personalToken: string };
      expect({ ...parsed, clients: Object.keys(parsed.clients) }).toEqual({ virtualMcp: "sales", url, clients: ["claude", "chatgpt", "claude-code", "cursor", "vscode", "mcp-remote"], personalToken: "mintgate tokens create --user EMAIL --vmcp sales" });
      expect(parsed.clients.vscode!.config).toEqual({ servers: { sales: { type: "http", url } } });
      expect(parsed.clients["claude-code"]!.command).toBe(`claude mcp add --transport http sales ${url}`);
      // One client: its block alone, and in JSON the same object with that client only.
      const cursor = await runMintgate(["connect", "sales", "--client", "cursor", "--data", publicDir]);
      expect(cursor).toEqual({ code: 0, stdout: `Cursor (~/.cursor/mcp.json)\n${JSON.stringify({ mcpServers: { sales: { type: "http", url } } }, null, 2).replace(/^/gm, "  ")}\n`, stderr: "" });
      const one = JSON.parse((await runMintgate(["connect", "sales", "--client", "mcp-remote", "--json", "--data", publicDir])).stdout) as { clients: Record<string, unknown> };
      expect(one.clients).toEqual({ "mcp-remote": { title: "Clients that only speak stdio", command: `npx mcp-remote ${url}`, steps: "The person signs in in the browser." } });

      // No public URL: the listen URL, and a warning that it works only there.
      const local = await runMintgate(["connect", "sales", "--json", "--data", localDir]);
      expect(JSON.parse(local.stdout).url).toBe(`${localGateway.url}/mcp/sales`);
      expect(local.stderr).toBe(`mintgate: warning: the gateway has no public URL, so ${localGateway.url}/mcp/sales (its listen URL) works only on this machine; start the gateway with --public-url set to the URL people use (e.g. https://mcp.example.com).\n`);
      // --public-url wins; one the gateway does not name to clients is printed, with why sign-in would fail.
      const given = await runMintgate(["connect", "sales", "--json", "--public-url", "https://other.example.com", "--data", publicDir]);
      expect(JSON.parse(given.stdout).url).toBe("https://other.example.com/mcp/sales");
      expect(given.stderr).toBe("mintgate: warning: the gateway names https://mcp.example.com to AI clients, not https://other.example.com; their sign-in fails until the gateway is started with --public-url https://other.example.com.\n");

      expect(await runMintgate(["connect", "slaes", "--data", publicDir])).toEqual({ code: 1, stdout: "", stderr: 'mintgate: There is no virtual MCP "slaes"; did you mean "sales"?\n' });
      expect(await runMintgate(["connect", "marketing", "--json", "--data", publicDir])).toEqual({ code: 1, stdout: "", stderr: 'mintgate: There is no virtual MCP "marketing"; this gateway has "sales".\n' });
      expect(await runMintgate(["connect", "sales", "--client", "emacs", "--data", publicDir])).toEqual({
        code: 2,
        stdout: "",
        stderr: 'mintgate: --client must be one of claude, chatgpt, claude-code, cursor, vscode, mcp-remote, not "emacs".\n',
      });
    } finally {
      await Promise.all([publicGateway.stop(), localGateway.stop()]);
    }
  });

  test("`connect` warns that sign-in fails at a plain-http URL other than this machine's, which AI clients refuse to finish a sign-in at", async () => {
    // mcp-remote 0.15 (node_modules), on the MCP SDK, exits on such a URL without --allow-http, and with it signs the
    // person in in the browser, then refuses to send the code to the http token endpoint (InsecureTokenEndpointError).
    const config = { connectors: [{ name: "demo", kind: "builtin", server: "demo" }], virtualMcps: [{ slug: "sales", name: "Sales", access: { everyone: true }, connectors: [{ connector: "demo" }] }] };
    const dataDir = await configuredDataDir(config, { label: "connect-plain-http" });
    const gateway = await startGateway({ dataDir, args: ["--public-url", "http://mcp.internal.example:8080"] });
    try {
      const url = "http://mcp.internal.example:8080/mcp/sales";
      const warning = `mintgate: warning: ${url} is plain http, and AI clients refuse to finish a sign-in over http anywhere but localhost; serve the gateway behind HTTPS and start it with --public-url https://… (or give each person a personal access token).\n`;
      const printed = await runMintgate(["connect", "sales", "--json", "--data", dataDir]);
      expect([printed.code, JSON.parse(printed.stdout).url, printed.stderr]).toEqual([0, url, warning]);
      // Loopback names over http are what the clients accept: no warning for them.
      for (const local of ["http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080"]) {
        const given = await runMintgate(["connect", "sales", "--client", "claude", "--public-url", local, "--data", dataDir]);
        expect([given.code, given.stderr], local).toEqual([0, `mintgate: warning: the gateway names http://mcp.internal.example:8080 to AI clients, not ${local}; their sign-in fails until the gateway is started with --public-url ${shellWord(local)}.\n`]);
      }
    } finally {
      await gateway.stop();
    }
  });

  test("`restore` of a missing file or a directory says so, not that SQLite could not open it", async () => {
    const work = tempDir();
    const dataDir = join(work, "data");
    expect((await runMintgate(["init", "--data", dataDir])).code).toBe(0);
    const missing = join(work, "no-such-backup.db");
    expect(await runMintgate(["restore", missing, "--data", dataDir])).toEqual({
      code: 2,
      stdout: "",
      stderr: `mintgate: There is no file ${missing}; check the path to the copy \`mintgate backup -o FILE\` wrote (nothing was changed).\n`,
    });
    expect(await runMintgate(["restore", work, "--data", dataDir])).toEqual({
      code: 2,
      stdout: "",
      stderr: `mintgate: ${work} is a directory; give the file \`mintgate backup -o FILE\` wrote (nothing was changed).\n`,
    });
  });

  test("`restore --data FILE` says --data names a file, not to run `init --data FILE` (which fails the same way)", async () => {
    const work = tempDir();
    const dataDir = join(work, "data");
    expect((await runMintgate(["init", "--data", dataDir])).code).toBe(0);
    const copy = join(work, "copy.db");
    expect((await runMintgate(["backup", "-o", copy, "--data", dataDir])).code).toBe(0);
    const file = join(work, "not-a-dir");
    writeFileSync(file, "");
    const stderr = `mintgate: ${file} is a file, not a directory; point --data at a directory.\n`;
    expect(await runMintgate(["restore", copy, "--data", file])).toEqual({ code: 1, stdout: "", stderr });
    expect(await runMintgate(["init", "--data", file])).toEqual({ code: 1, stdout: "", stderr });
  });

  test("bad settings are refused before anything starts", async () => {
    const dir = tempDir();
    const port = await runMintgate(["serve", "--data", dir, "--port", "99999"]);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain("--port must be a port number from 0 to 65535");
    const tls = await runMintgate(["serve", "--data", dir, "--tls-cert", "cert.pem"]);
    expect(tls.code).toBe(2);
    expect(tls.stderr).toContain("both --tls-cert and --tls-key");
    const url = await runMintgate(["serve", "--data", dir], { env: { MINTGATE_PUBLIC_URL: "ftp://x" } });
    expect(url.code).toBe(2);
    expect(url.stderr).toContain("MINTGATE_PUBLIC_URL must start with https://");
    // A misspelt log level used to mean "info" without a word; any case of a real one is fine.
    const level = await runMintgate(["serve", "--data", dir], { env: { MINTGATE_LOG_LEVEL: "verbose" } });
    expect(level.code).toBe(2);
    expect(level.stderr).toBe('mintgate: MINTGATE_LOG_LEVEL is "verbose"; set it to debug, info, warn or error, or unset it.\n');
    expect((await runMintgate(["version"], { env: { MINTGATE_LOG_LEVEL: "WARN" } })).code).toBe(0);
    const format = await runMintgate(["serve", "--data", dir, "--log-format", "xml"]);
    expect(format.code).toBe(2);
    expect(format.stderr).toBe('mintgate: --log-format must be text or json, not "xml".\n');
    const formatFromEnv = await runMintgate(["serve", "--data", dir], { env: { MINTGATE_LOG_FORMAT: "logfmt" } });
    expect(formatFromEnv.code).toBe(2);
    expect(formatFromEnv.stderr).toBe('mintgate: MINTGATE_LOG_FORMAT must be text or json, not "logfmt".\n');
  });

  test("a --public-url holding a password, a query or a fragment is refused, and the password is never printed", async () => {
    const dir = tempDir();
    // Before, the gateway started: its listening and `started` lines printed the password, and every resource URL was broken.
    const credentials = await runMintgate(["serve", "--data", dir, "--port", "0", "--public-url", "https://ada:hunter2-secret@mcp.example.com"]);
    expect(credentials).toEqual({
      code: 2,
      stdout: "",
      stderr: "mintgate: --public-url holds a user name or password, which every client would be shown; give the URL without them, such as https://mcp.example.com (people sign in through the gateway).\n",
    });
    for (const url of ["https://mcp.example.com/?team=a", "https://mcp.example.com#top", "https://mcp.example.com?"]) {
      const refused = await runMintgate(["serve", "--data", dir, "--port", "0"], { env: { MINTGATE_PUBLIC_URL: url } });
      expect(refused).toEqual({ code: 2, stdout: "", stderr: `mintgate: MINTGATE_PUBLIC_URL must have no query or fragment (? or #), such as https://mcp.example.com, not "${url}".\n` });
    }
    expect(existsSync(join(dir, "mintgate.db"))).toBe(false);
  });

  test("a port in use and a missing TLS file are one sentence each", async () => {
    const blocker = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("busy") });
    try {
      const busy = await runMintgate(["serve", "--data", tempDir(), "--port", String(blocker.port)]);
      expect(busy.code).toBe(1);
      expect(busy.stderr.trim().split("\n").at(-1)).toBe(`mintgate: Port ${blocker.port} on 127.0.0.1 is already in use; stop the other process or choose another with --port or MINTGATE_PORT.`);
      // With the JSON log format, the sentence it stops on is a JSON line like the log lines before it.
      const busyJson = await runMintgate(["serve", "--data", tempDir(), "--port", String(blocker.port), "--log-format", "json"]);
      expect(busyJson.code).toBe(1);
      const records = busyJson.stderr.trimEnd().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(records.length).toBeGreaterThan(1);
      expect(records.at(-1)).toMatchObject({ level: "error", msg: `mintgate: Port ${blocker.port} on 127.0.0.1 is already in use; stop the other process or choose another with --port or MINTGATE_PORT.` });
      // Refused before any upstream starts: a restart loop against a taken port would spawn and stop them each time.
      const marker = join(tempDir(), "started");
      const withUpstream = await configuredDataDir({ connectors: [{ name: "marks", kind: "stdio", command: "sh", args: ["-c", `echo started >> ${marker}; exec cat`] }], virtualMcps: [] });
      const refused = await runMintgate(["serve", "--data", withUpstream, "--port", String(blocker.port)]);
      expect(refused.code).toBe(1);
      expect(existsSync(marker)).toBe(false);
    } finally {
      await blocker.stop(true);
    }
    // A wrong TLS path is a usage error found before the data directory is created or migrated.
    const untouched = join(tempDir(), "d");
    const tls = await runMintgate(["serve", "--data", untouched, "--port", "0", "--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"]);
    expect(tls.code).toBe(2);
    expect(tls.stderr).toBe("mintgate: The file /nonexistent/c.pem (--tls-cert) does not exist; check the path.\n");
    expect(existsSync(untouched)).toBe(false);
    const host = await runMintgate(["serve", "--data", tempDir(), "--port", "0", "--host", "no-such-host.invalid"]);
    expect(host.code).toBe(1);
    expect(host.stderr.trim().split("\n").at(-1)).toBe("mintgate: no-such-host.invalid is not an address and does not resolve to one; fix --host.");
  });

  test("an address the gateway cannot listen on is refused before any upstream starts, as a port in use is", async () => {
    // An address this machine does not have (192.0.2.1 is kept for documentation; at boot, an interface not up yet) or a
    // name that does not resolve: a restart loop would spawn every stdio upstream and stop it again, each attempt.
    const marker = join(tempDir(), "started");
    const withUpstream = await configuredDataDir({ connectors: [{ name: "marks", kind: "stdio", command: "sh", args: ["-c", `echo started >> ${marker}; exec cat`] }], virtualMcps: [] });
    for (const [host, sentence] of [
      ["192.0.2.1", "mintgate: 192.0.2.1 is not an address of this machine; fix --host."],
      ["no-such-host.invalid", "mintgate: no-such-host.invalid is not an address and does not resolve to one; fix --host."],
    ] as const) {
      for (const port of ["0", "18080"]) {
        const refused = await runMintgate(["serve", "--data", withUpstream, "--host", host, "--port", port]);
        expect([host, port, refused.code, refused.stdout, refused.stderr.trim().split("\n").at(-1)]).toEqual([host, port, 1, "", sentence]);
      }
    }
    expect(existsSync(marker)).toBe(false);
  });

  test("an IPv6 --host may be written as in a URL ([::1]): the gateway listens there and names a URL that works", async () => {
    const dir = tempDir();
    // Before, it listened and named http://[[::1]]:PORT in its listening line, server.url and OAuth metadata.
    const gateway = await startGateway({ dataDir: dir, args: ["--host", "[::1]"] });
    expect(gateway.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    expect(readFileSync(join(dir, "server.url"), "utf8")).toStartWith(`${gateway.url}\n`);
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    expect(await gateway.stop()).toBe(0);
    const notIpv6 = await runMintgate(["serve", "--data", dir, "--port", "0"], { env: { MINTGATE_HOST: "[localhost]" } });
    expect(notIpv6).toEqual({ code: 2, stdout: "", stderr: 'mintgate: MINTGATE_HOST must be an address or host name such as 127.0.0.1, ::1 or mcp.internal, not "[localhost]".\n' });
  });

  test("missing or extra positional arguments are usage errors", async () => {
    const missing = await runMintgate(["secrets", "delete"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("takes <NAME>, got none");
    const extra = await runMintgate(["serve", "extra", "--port", "0", "--data", tempDir()]);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('`mintgate serve` takes no arguments, got "extra"');
    const unknown = await runMintgate(["secrets", "show", "X"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "secrets show"');
  });

  test("an email holding a control character, a bidi override or over 320 characters is refused everywhere one is taken", async () => {
    const dir = join(tempDir(), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    // Stored, they were printed raw by `tokens create` and its warnings, and kept in policies and the audit trail.
    for (const user of ["x\u001b[31m@evil.example", "ada@example.com\u202e", `${"a".repeat(320)}@example.com`]) {
      const created = await runMintgate(["tokens", "create", "--user", user, "--data", dir]);
      expect([created.code, created.stdout], JSON.stringify(user)).toEqual([2, ""]);
      expect(created.stderr).toContain("is not an email address; tokens are issued to a person (--user EMAIL).");
    }
    // policy explain answered any --user, a name or a missing @ included, as a member with no groups.
    for (const user of ["ada", "x\u001b[31m@evil.example"]) {
      const explained = await runMintgate(["policy", "explain", "--user", user, "--vmcp", "team", "--data", dir]);
      expect([explained.code, explained.stdout, explained.stderr]).toEqual([2, "", `mintgate: ${JSON.stringify(user)} is not an email address; policies decide for a person by email (--user EMAIL).\n`]);
    }
    const added = await runMintgate(["users", "add", "x\u001b[31m@evil.example", "--data", dir], { stdin: "a long enough password\n" });
    expect([added.code, added.stderr]).toEqual([2, 'mintgate: "x\\u001b[31m@evil.example" is not an email address.\n']);
    const file = join(tempDir(), "mintgate.yaml");
    writeFileSync(file, 'connectors:\n  - name: demo\n    kind: builtin\n    server: demo\nvirtualMcps:\n  - slug: team\n    name: Team\n    access:\n      users: ["ada\\e[2J@example.com"]\n    connectors:\n      - connector: demo\n');
    const applied = await runMintgate(["apply", "-f", file, "--data", dir]);
    expect([applied.code, applied.stderr]).toEqual([2, `mintgate: mintgate.yaml:9: "ada\\u001b[2J@example.com" in "users" of "access" of virtual MCP "team" is not an email address\n`]);
    // Edge spaces are trimmed, as the admin API's POST /tokens did: both paths take the same input.
    const spaced = await runMintgate(["tokens", "create", "--user", " Ada@Example.com ", "--json", "--data", dir]);
    expect([spaced.code, JSON.parse(spaced.stdout).subject]).toEqual([0, "ada@example.com"]);
    // An empty --vmcp (an unset variable) is a usage error with the admin API's sentence, not a search for the slug "".
    const emptyVmcp = await runMintgate(["tokens", "create", "--user", "ada@example.com", "--vmcp", "", "--data", dir]);
    expect(emptyVmcp).toEqual({ code: 2, stdout: "", stderr: "mintgate: The virtual MCP (--vmcp) is empty; give its slug, or leave it out for a token good on every virtual MCP.\n" });
  });

  test("a CLI error quoting what was typed writes its control characters as escapes, never raw to the terminal", async () => {
    const dir = join(tempDir(), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const revoke = await runMintgate(["tokens", "revoke", "a\u001b]0;pwned\u0007", "--data", dir]);
    expect(revoke).toEqual({ code: 1, stdout: "", stderr: 'mintgate: There is no token with id "a\\u001b]0;pwned\\u0007"; `mintgate tokens list` shows them.\n' });
    const vmcp = await runMintgate(["tokens", "create", "--user", "ada@example.com", "--vmcp", "x\u001b[2J\u202e", "--data", dir]);
    expect(vmcp.stderr).toBe('mintgate: There is no virtual MCP "x\\u001b[2J\\u202e"; `mintgate export` lists them.\n');
    const unknown = await runMintgate(["\u001b[2J"]);
    expect([unknown.code, unknown.stderr]).toEqual([2, 'mintgate: unknown command "\\u001b[2J"; run `mintgate --help` for the list.\n']);
    const unknownSub = await runMintgate(["tokens", "\u009b2J"]);
    expect(unknownSub.stderr).toBe('mintgate: unknown command "tokens \\u009b2J"; run `mintgate tokens --help` for the list.\n');
  });

  test("commands that need a data dir say how to create one", async () => {
    const missing = `${tempDir()}/nothing-here`;
    const result = await runMintgate(["secrets", "list", "--data", missing]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("mintgate init --data");
    // A path with a space is quoted, so the suggested line can be pasted.
    const spaced = `${tempDir()}/my data`;
    expect((await runMintgate(["secrets", "list", "--data", spaced])).stderr).toBe(`mintgate: The data directory ${spaced} does not exist; run \`mintgate init --data '${spaced}'\` first.\n`);
    // Commands that read a value say so before asking for it: with standard input left open they used to wait for it first.
    for (const args of [["secrets", "set", "X"], ["users", "add", "a@example.com"], ["users", "set-password", "a@example.com"], ["sso", "add", "corp", "--kind", "oidc", "--issuer", "https://idp.example.com", "--client-id", "c"]]) {
      const child = Bun.spawn([BINARY, ...args, "--data", missing], { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: cleanEnv() });
      const code = await Promise.race([child.exited, Bun.sleep(5_000).then(() => "still waiting for input")]);
      child.kill();
      expect(code, args.join(" ")).toBe(1);
      expect(await new Response(child.stderr).text()).toBe(`mintgate: The data directory ${missing} does not exist; run \`mintgate init --data ${missing}\` first.\n`);
    }
  });

  test("an -o FILE that cannot be written is one sentence on stderr, exit 1", async () => {
    const dir = join(tempDir(), "data");
    await runMintgate(["init", "--data", dir]);
    const file = join(tempDir(), "no-such-dir", "out");
    for (const args of [["export", "-o", file], ["audit", "export", "--format", "jsonl", "-o", file]]) {
      const result = await runMintgate([...args, "--data", dir]);
      expect(result).toEqual({ code: 1, stdout: "", stderr: `mintgate: Cannot write ${file} (ENOENT); check that its directory exists and is writable.\n` });
      // A directory exists and may be writable: the sentence says what is wrong with it instead.
      const directory = tempDir();
      const given = await runMintgate([...args.slice(0, -1), directory, "--data", dir]);
      expect(given).toEqual({ code: 1, stdout: "", stderr: `mintgate: Cannot write ${directory}: it is a directory; give a file name in it.\n` });
    }
  });

  test("an -o FILE that exists is refused without --force and left as it was, replaced with it; an empty -o is a usage error, not standard output", async () => {
    const dir = join(tempDir(), "data");
    await runMintgate(["init", "--data", dir]);
    // A change leaves an audit record to export.
    expect((await runMintgate(["tokens", "create", "--user", "ada@example.com", "--data", dir])).code).toBe(0);
    for (const args of [["export"], ["audit", "export", "--format", "jsonl"]]) {
      const printed = (await runMintgate([...args, "--data", dir])).stdout;
      expect(printed.length).toBeGreaterThan(0);
      const file = join(tempDir(), "out");
      writeFileSync(file, "kept\n");
      const refused = await runMintgate([...args, "-o", file, "--data", dir]);
      expect(refused, args.join(" ")).toEqual({ code: 1, stdout: "", stderr: `mintgate: ${file} exists already; give a new file name, or add --force to replace it.\n` });
      expect(readFileSync(file, "utf8")).toBe("kept\n");
      const forced = await runMintgate([...args, "-o", file, "--force", "--data", dir]);
      expect([forced.code, forced.stdout], args.join(" ")).toEqual([0, ""]);
      expect(readFileSync(file, "utf8"), args.join(" ")).toBe(printed);
      // `-o "$FILE"` with FILE unset wrote to standard output.
      expect(await runMintgate([...args, "-o", "", "--data", dir])).toEqual({ code: 2, stdout: "", stderr: "mintgate: -o is empty; give the file to write, or leave -o out to write to standard output.\n" });
    }
  });

  test("`export -o FILE --json` writes the JSON to FILE, not to stdout", async () => {
    const dir = join(tempDir(), "data");
    await runMintgate(["init", "--data", dir]);
    const file = join(tempDir(), "config.json");
    const result = await runMintgate(["export", "-o", file, "--json", "--data", dir]);
    expect(result).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(JSON.parse(await Bun.file(file).text())).toEqual({ connectors: [], virtualMcps: [] });
  });

  test("every command whose report says it failed (exit 1) keeps the report on stdout, JSON alone with --json, and says why on stderr in one sentence", async () => {
    const dir = join(tempDir(), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const dead = await runMintgate(["sso", "add", "dead", "--kind", "oidc", "--issuer", "http://127.0.0.1:1", "--client-id", "mg", "--data", dir], { stdin: "client secret\n" });
    expect(dead.code).toBe(0);
    const db = new Database(join(dir, "mintgate.db"));
    db.run("UPDATE audit_records SET outcome = 'error' WHERE id = 1");
    db.close();
    const cases: [string[], string][] = [
      [["audit", "verify"], "mintgate: the audit trail does not verify from record 1 on; the report on stdout says what changed (keep this copy of the database as evidence).\n"],
      [["sso", "test", "dead"], "mintgate: the provider dead is not usable yet; fix what the report on stdout names and run the test again.\n"],
    ];
    const runs = await Promise.all(cases.flatMap(([args]) => [runMintgate([...args, "--json", "--data", dir]), runMintgate([...args, "--data", dir])]));
    for (const [i, [, sentence]] of cases.entries()) {
      const [json, plain] = [runs[2 * i]!, runs[2 * i + 1]!];
      expect([json.code, JSON.parse(json.stdout).ok, json.stderr]).toEqual([1, false, sentence]);
      expect([plain.code, plain.stdout.startsWith("{"), plain.stdout.length > 0, plain.stderr]).toEqual([1, false, true, sentence]);
    }
    expect(runs[1]!.stdout).toStartWith("The audit trail is broken at record 1: ");
  });

  test("an empty audit filter (an unset shell variable) is a usage error, not every record", async () => {
    const dir = join(tempDir(), "data");
    await runMintgate(["init", "--data", dir]);
    const cases: [string, string][] = [
      ["--user", "--user is empty; give the person's email, or leave --user out to include every record."],
      ["--vmcp", "--vmcp is empty; give a virtual MCP's slug, or leave --vmcp out to include every record."],
      ["--tool", "--tool is empty; give the tool's exposed name, or leave --tool out to include every record."],
      ["--since", '--since must be a time such as 2025-06-01, 2025-06-01T12:00:00Z or an age such as 24h or 7d, not "".'],
      ["--until", '--until must be a time such as 2025-06-01, 2025-06-01T12:00:00Z or an age such as 24h or 7d, not "".'],
    ];
    const commands = [["audit", "search"], ["audit", "export", "--format", "jsonl"]];
    const runs = await Promise.all(commands.flatMap((command) => cases.map(([option]) => runMintgate([...command, option, "", "--data", dir]))));
    expect(runs).toEqual(commands.flatMap(() => cases.map(([, sentence]) => ({ code: 2, stdout: "", stderr: `mintgate: ${sentence}\n` }))));
  });

  test("audit search --limit above the maximum is a usage error, as in the admin API", async () => {
    const dir = join(tempDir(), "data");
    await runMintgate(["init", "--data", dir]);
    const result = await runMintgate(["audit", "search", "--limit", "10001", "--data", dir]);
    expect(result).toEqual({ code: 2, stdout: "", stderr: 'mintgate: --limit must be a whole number from 1 to 10000, not "10001".\n' });
    expect((await runMintgate(["audit", "search", "--limit", "10000", "--json", "--data", dir])).code).toBe(0);
  });

  test("a data directory that cannot be created is one sentence, for init and serve", async () => {
    const blocker = join(tempDir(), "a-file");
    writeFileSync(blocker, "");
    const dir = join(blocker, "data");
    for (const args of [["init"], ["serve", "--port", "0"]]) {
      const result = await runMintgate([...args, "--data", dir]);
      expect(result).toEqual({ code: 1, stdout: "", stderr: `mintgate: Cannot create the data directory ${dir} (ENOTDIR); choose a --data directory this user may create, or create it first.\n` });
    }
  });

  test("a stale server.url never gets the admin token: another program on that port is not asked", async () => {
    const dir = tempDir();
    await runMintgate(["init", "--data", dir]);
    const seenAuthorization: string[] = [];
    let port: number | undefined;
    const impostor = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        const authorization = request.headers.get("authorization");
        if (authorization) seenAuthorization.push(authorization);
        return Response.json({ status: "ok", instance: "someone-else" });
      },
    });
    try {
      port = impostor.port;
      writeFileSync(join(dir, "server.url"), `http://127.0.0.1:${port}\nthe-crashed-gateway\n`);
      const result = await runMintgate(["status", "--data", dir]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`stopped or crashed (another server answers at http://127.0.0.1:${port})`);
      expect(seenAuthorization).toEqual([]);
    } finally {
      await impostor.stop(true);
    }
    // Nothing listens there at all once the other program is gone too.
    const down = await runMintgate(["status", "--data", dir]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`stopped or crashed (nothing answers at http://127.0.0.1:${port})`);
  });

  /** A server on a crashed gateway's port answering with `answer`, and the Authorization headers it was sent. */
  function impostorOn(port: number, answer: (request: Request) => Response) {
    const seenAuthorization: string[] = [];
    const impostor = Bun.serve({
      hostname: "127.0.0.1",
      port,
      fetch(request) {
        const authorization = request.headers.get("authorization");
        if (authorization) seenAuthorization.push(authorization);
        return answer(request);
      },
    });
    return { impostor, seenAuthorization };
  }

  test("a program that read a gateway's public /healthz and took its port once it crashed never gets the admin token", async () => {
    const dir = tempDir();
    await runMintgate(["init", "--data", dir]);
    const gateway = await startGateway({ dataDir: dir });
    const port = Number(new URL(gateway.url).port);
    // Anyone may ask /healthz (a local user, anyone the port is open to): it answers without a token.
    const learned = (await (await fetch(`${gateway.url}/healthz`)).json()) as Record<string, unknown>;
    gateway.signal("SIGKILL");
    await gateway.exited;
    expect(existsSync(join(dir, "server.url"))).toBe(true);
    const { impostor, seenAuthorization } = impostorOn(port, () => Response.json(learned));
    try {
      const result = await runMintgate(["status", "--data", dir]);
      expect(seenAuthorization).toEqual([]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`stopped or crashed (another server answers at http://127.0.0.1:${port})`);
    } finally {
      await impostor.stop(true);
    }
  });

  test("a client left running (the TUI) sends its next request to the gateway only: a program that took the port of the one it checked, once that crashed, gets no admin token", async () => {
    const dir = tempDir();
    await runMintgate(["init", "--data", dir]);
    const gateway = await startGateway({ dataDir: dir });
    const port = Number(new URL(gateway.url).port);
    const client = new AdminClient(locateGateway({ dataDir: dir }));
    expect((await client.get<{ version: string }>("/status")).version).toBeString();
    const learned = (await (await fetch(`${gateway.url}/healthz`)).json()) as Record<string, unknown>;
    gateway.signal("SIGKILL");
    await gateway.exited;
    const { impostor, seenAuthorization } = impostorOn(port, (request) => Response.json(new URL(request.url).pathname === "/healthz" ? learned : { version: "impostor" }));
    try {
      await expect(client.get("/status")).rejects.toThrow(`stopped or crashed (another server answers at http://127.0.0.1:${port})`);
      expect(seenAuthorization).toEqual([]);
    } finally {
      await impostor.stop(true);
    }
  });

  test("--url answered by something that is not the admin API (a proxy's page, another program) is one sentence and exit 1, never an empty success", async () => {
    const dir = tempDir();
    const tokenFile = join(dir, "admin.token");
    writeFileSync(tokenFile, "mgt_admin_x\n");
    const other = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request) =>
        new URL(request.url).pathname.includes("approvals") || new URL(request.url).pathname.endsWith("/v")
          ? new Response("Bad Gateway", { status: 502, headers: { "content-type": "text/plain" } })
          : new Response("<html>sign in</html>", { headers: { "content-type": "text/html" } }),
    });
    try {
      const url = `http://127.0.0.1:${other.port}`;
      // status --json printed {} and exited 0; status and approve failed as internal errors with a stack trace.
      for (const args of [["status", "--json"], ["status"], ["approve", "sales", "--all"]]) {
        const result = await runMintgate([...args, "--url", url, "--token-file", tokenFile]);
        const path = args[0] === "status" ? "/admin/api/status" : "/admin/api/virtual-mcps/sales";
        expect(result, args.join(" ")).toEqual({ code: 1, stdout: "", stderr: `mintgate: ${url} answered ${path} with HTTP 200 (text/html), not mintgate's admin API; check that --url is the gateway's own address and that it runs there.\n` });
      }
      // An error page without the admin API's JSON message: it was "The gateway answered 502.", which says nothing to do.
      const failed = await runMintgate(["approve", "v", "--all", "--url", url, "--token-file", tokenFile]);
      expect(failed).toEqual({ code: 1, stdout: "", stderr: `mintgate: ${url} answered /admin/api/virtual-mcps/v with HTTP 502 (text/plain), not mintgate's admin API; check that --url is the gateway's own address and that it runs there.\n` });
      // The TUI's audit export downloads through the same client: its refusal says the same.
      const download = new AdminClient({ url, token: "mgt_admin_x" }).download("/virtual-mcps/v", () => {});
      await expect(download).rejects.toThrow(`${url} answered /admin/api/virtual-mcps/v with HTTP 502 (text/plain), not mintgate's admin API`);
    } finally {
      await other.stop(true);
    }
  });

  test("status without a running gateway says to start one", async () => {
    const dir = tempDir();
    await runMintgate(["init", "--data", dir]);
    const result = await runMintgate(["status", "--data", dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("No gateway is running");
    // Nothing at --url: one sentence with the error's code, not Bun's own two sentences after it.
    const port = await freePort();
    expect(await runMintgate(["status", "--json", "--url", `http://127.0.0.1:${port}`, "--data", dir])).toEqual({
      code: 1,
      stdout: "",
      stderr: `mintgate: Cannot reach the gateway at http://127.0.0.1:${port} (ECONNREFUSED); is \`mintgate serve\` running?\n`,
    });
  });

  test("status names each connector that is not ready, with why (it only counted them)", async () => {
    const { gateway, dataDir } = await startConfiguredGateway({
      connectors: [{ name: "demo", kind: "builtin", server: "demo" }, { name: "broken", kind: "stdio", command: "/nonexistent/mcp-server" }],
      virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "demo" }, { connector: "broken" }] }],
    });
    try {
      const reason = 'Connector "broken" cannot start "/nonexistent/mcp-server": no such file';
      const json = await waitFor("broken to have failed and demo to be ready", async () => {
        const status = JSON.parse((await runMintgate(["status", "--json", "--data", dataDir])).stdout) as { connectors: { total: number; ready: number; notReady: unknown[] } };
        return status.connectors.ready === 1 && status.connectors.notReady.length === 1 ? status : undefined;
      });
      expect(json.connectors).toEqual({ total: 2, ready: 1, notReady: [{ name: "broken", state: "failed", reason }] });
      const text = await runMintgate(["status", "--data", dataDir]);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(`  connectors 1 of 2 ready, virtual MCPs 1, sessions 0\n  connector broken: failed (${reason})\n`);
      // Started without --public-url: clients are given the listen URL, which the text says.
      expect(text.stdout).toContain(`  public URL none (clients are given ${gateway.url}; set --public-url)\n`);
    } finally {
      await gateway.stop();
    }
  });

  test("status as a user that may not read admin.token (not the gateway's user) says so, not an internal error", async () => {
    const { dir: base, binary } = isolatedBinary();
    const dir = join(base, "d");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    writeFileSync(join(dir, "server.url"), "http://127.0.0.1:9\nsome-instance\n", { mode: 0o644 });
    const token = join(dir, "admin.token");
    // Root reads every file: there, another user (65534) runs the command; elsewhere the file's mode keeps this user out.
    const asRoot = process.getuid?.() === 0;
    chmodSync(base, 0o755);
    chmodSync(dir, 0o755);
    if (!asRoot) chmodSync(token, 0o000);
    const uid = asRoot ? 65534 : process.getuid!();
    const argv = [...(asRoot ? ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups"] : []), binary, "status", "--data", dir];
    const child = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: cleanEnv() });
    const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    chmodSync(token, 0o600);
    expect({ code, stderr }).toEqual({
      code: 1,
      stderr: `mintgate: This user (uid ${uid}) may not read ${token}; run the command as the gateway's user (\`sudo -u\`), or pass --url and --token-file.\n`,
    });
  });

  test("a database another process keeps write-locked is one sentence to try again, not an internal error", async () => {
    const dir = tempDir();
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const holder = new Database(join(dir, "mintgate.db"));
    holder.exec("BEGIN IMMEDIATE");
    try {
      const result = await runMintgate(["secrets", "set", "waiting", "--data", dir], { stdin: "value\n" });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe("mintgate: The database is busy: another mintgate process has held its write lock for more than 5 seconds; try again in a moment.\n");
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
    expect((await runMintgate(["secrets", "set", "waiting", "--data", dir], { stdin: "value\n" })).code).toBe(0);
  });
});

describe("text on its way to a terminal", () => {
  test("every character Unicode says to draw as nothing is escaped, but those emoji and scripts need", () => {
    // Kept, and why, in src/terminal: the joiners, variation selectors, and characters scripts spell with.
    const kept = /[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200c\u200d\u3164\ufe00-\ufe0f\uffa0\u{e0100}-\u{e01ef}]/u;
    const shownRaw: string[] = [];
    for (let codePoint = 0; codePoint <= 0x10ffff; codePoint++) {
      const character = String.fromCodePoint(codePoint);
      if (!/\p{Default_Ignorable_Code_Point}|\p{Bidi_Control}/u.test(character)) continue;
      if (kept.test(character) !== (printable(character) === character)) shownRaw.push(codePoint.toString(16));
    }
    expect(shownRaw).toEqual([]);
    // Escaped so that JSON reads them back: a BMP character as itself, one beyond as its two UTF-16 halves.
    expect(printable("a\u200bb\u2062c\ufeff\u00ad\u{e0041}")).toBe("a\\u200bb\\u2062c\\ufeff\\u00ad\\udb40\\udc41");
    expect(JSON.parse(`"${printable("a\u200b\u{1d173}")}"`)).toBe("a\u200b\u{1d173}");
  });
});

describe("mintgate apply", () => {
  const connector = (name: string) => ({ connectors: [{ name, kind: "builtin", server: "demo" }], virtualMcps: [] });

  test("two applies with --prune at once give the result of one after the other, never a mix", async () => {
    const base = tempDir();
    const dir = join(base, "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    for (const name of ["x", "a1", "b1"]) writeFileSync(join(base, `${name}.json`), JSON.stringify(connector(name)));
    for (let round = 0; round < 6; round++) {
      expect((await runMintgate(["apply", "-f", join(base, "x.json"), "--prune", "--data", dir])).code).toBe(0);
      const [a, b] = await Promise.all(["a1", "b1"].map((name) => runMintgate(["apply", "-f", join(base, `${name}.json`), "--prune", "--data", dir])));
      expect([a!.code, b!.code, a!.stderr + b!.stderr]).toEqual([0, 0, ""]);
      const names = (JSON.parse((await runMintgate(["export", "--json", "--data", dir])).stdout) as { connectors: { name: string }[] }).connectors.map((c) => c.name);
      expect(names.length === 1 && (names[0] === "a1" || names[0] === "b1")).toBe(true);
      // Only one of them found x to delete.
      expect([a!.stdout, b!.stdout].filter((out) => out.includes("deleted connector x"))).toHaveLength(1);
    }
  });

  test("`export --json` is the file as JSON: apply reads it back with no changes, and rebuilds the same configuration elsewhere", async () => {
    const base = tempDir();
    const dir = join(base, "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const file = join(base, "mintgate.yaml");
    writeFileSync(file, `connectors:
  - { name: demo, kind: builtin, server: demo, timeout: 90s }
  - { name: web, kind: http, url: https://mcp.example.com/mcp, headers: { X-Team: "ü" } }
virtualMcps:
  - slug: team
    name: Team 🚀
    newTools: approve
    connectors: [{ connector: demo, prefix: d, include: [echo], rename: { echo: say } }, { connector: web }]
    access: { everyone: true }
`);
    expect((await runMintgate(["apply", "-f", file, "--data", dir])).code).toBe(0);
    const json = join(base, "config.json");
    expect((await runMintgate(["export", "--json", "-o", json, "--data", dir])).code).toBe(0);
    expect(JSON.parse(await Bun.file(json).text()).connectors[0]).toEqual({ name: "demo", kind: "builtin", server: "demo", timeout: "90s" });
    expect(await runMintgate(["apply", "-f", json, "--data", dir])).toEqual({ code: 0, stdout: "No changes: the configuration already matches the file.\n", stderr: "" });
    const fresh = join(base, "fresh");
    expect((await runMintgate(["init", "--data", fresh])).code).toBe(0);
    expect((await runMintgate(["apply", "-f", json, "--data", fresh])).code).toBe(0);
    expect((await runMintgate(["export", "--data", fresh])).stdout).toBe((await runMintgate(["export", "--data", dir])).stdout);
  });

  test("a control character or a bidi override in a virtual MCP's name, description or tool description is refused with its line, and nothing changes; any script and emoji are kept", async () => {
    const base = tempDir();
    const dir = join(base, "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const file = join(base, "mintgate.yaml");
    const write = (name: string, description: string, echo: string) =>
      writeFileSync(file, `connectors:\n  - { name: demo, kind: builtin, server: demo }\nvirtualMcps:\n  - slug: team\n    name: ${name}\n    description: ${description}\n    connectors:\n      - connector: demo\n        describe: { echo: ${echo} }\n`);
    write("チーム 🚀", '"日本語の説明 😀\\nCafé, naïve,\\tçà"', "エコー ✅");
    expect((await runMintgate(["apply", "-f", file, "--data", dir])).code).toBe(0);
    const before = (await runMintgate(["export", "--json", "--data", dir])).stdout;
    expect(JSON.parse(before).virtualMcps[0]).toMatchObject({ name: "チーム 🚀", description: "日本語の説明 😀\nCafé, naïve,\tçà" });
    write('"Team\\u202e"', '"Clears\\e[2J the screen"', '"echo\\u009b2J"');
    const refused = await runMintgate(["apply", "-f", file, "--data", dir]);
    expect(refused).toEqual({
      code: 2,
      stdout: "",
      stderr:
        'mintgate: mintgate.yaml:5: the name of virtual MCP "team" contains the bidirectional control U+202E; remove it: it must be one line, without control characters or bidirectional controls\n' +
        'mintgate.yaml:6: the description of virtual MCP "team" contains the control character U+001B; remove it: it may hold line breaks and tabs, but no other control characters and no bidirectional controls\n' +
        'mintgate.yaml:9: the description of "echo" in connector "demo" in virtual MCP "team" contains the control character U+009B; remove it: it may hold line breaks and tabs, but no other control characters and no bidirectional controls\n',
    });
    // A name is one line; a description may have several.
    write('"Team\\nB"', "ok", "ok");
    expect((await runMintgate(["apply", "-f", file, "--data", dir])).stderr).toContain("mintgate.yaml:5: the name of virtual MCP \"team\" contains the line break U+000A;");
    // Saved as Latin-1, "Café" would become "Caf\uFFFD" if decoded leniently: refused with its line, from a file or stdin.
    const latin1 = Buffer.from("connectors:\n  - { name: demo, kind: builtin, server: demo }\nvirtualMcps:\n  - slug: team\n    name: Caf\xe9\n", "latin1");
    writeFileSync(file, latin1);
    const notUtf8 = "the line is not UTF-8 text (the file may be Latin-1 or Windows-1252); save the file as UTF-8\n";
    expect(await runMintgate(["apply", "-f", file, "--data", dir])).toEqual({ code: 2, stdout: "", stderr: `mintgate: mintgate.yaml:5: ${notUtf8}` });
    expect((await runMintgate(["apply", "-f", "-", "--data", dir], { stdin: latin1 })).stderr).toBe(`mintgate: stdin:5: ${notUtf8}`);
    expect((await runMintgate(["export", "--json", "--data", dir])).stdout).toBe(before);
  });

  test("export writes a control character stored by an older version escaped; apply takes it back unchanged but refuses it in new text", async () => {
    const base = tempDir();
    const dir = join(base, "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const file = join(base, "mintgate.yaml");
    writeFileSync(file, "connectors:\n  - { name: demo, kind: builtin, server: demo }\nvirtualMcps:\n  - slug: team\n    name: Team\n    connectors: [{ connector: demo, describe: { echo: Echo } }]\n");
    expect((await runMintgate(["apply", "-f", file, "--data", dir])).code).toBe(0);
    // As a version without the check could have stored them.
    const db = new Database(join(dir, "mintgate.db"));
    db.run("UPDATE virtual_mcps SET name = ?, description = ?", ["Team\u001b]0;x\u0007", "Red \u001b[31malert\u202e\u0085 ok"]);
    db.run("UPDATE virtual_mcp_connectors SET curation = json_set(curation, '$.describe.echo', ?)", ["Echo\u2066\u009b"]);
    db.close();
    const yaml = await runMintgate(["export", "--data", dir]);
    expect(yaml.stdout).toContain('    name: "Team\\e]0;x\\a"\n    description: "Red \\e[31malert\\u202e\\u0085 ok"\n');
    expect(yaml.stdout).toContain('        describe:\n          echo: "Echo\\u2066\\u009b"\n');
    const json = await runMintgate(["export", "--json", "--data", dir]);
    expect(json.stdout).toContain('"description": "Red \\u001b[31malert\\u202e\\u0085 ok"');
    for (const out of [yaml.stdout, json.stdout]) expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    // Applied back, the stored text is kept as it is (refusing it would make the whole file fail): no change, in YAML or JSON.
    writeFileSync(file, yaml.stdout);
    const noChanges = { code: 0, stdout: "No changes: the configuration already matches the file.\n", stderr: "" };
    expect(await runMintgate(["apply", "-f", file, "--data", dir])).toEqual(noChanges);
    expect(await runMintgate(["apply", "-f", "-", "--data", dir], { stdin: json.stdout })).toEqual(noChanges);
    // Other text in its place is checked: a changed description that keeps the ESC is refused.
    writeFileSync(file, yaml.stdout.replace("alert", "alarm"));
    const changed = await runMintgate(["apply", "-f", file, "--data", dir]);
    expect([changed.code, changed.stderr]).toEqual([2, 'mintgate: mintgate.yaml:9: the description of virtual MCP "team" contains the control character U+001B; remove it: it may hold line breaks and tabs, but no other control characters and no bidirectional controls\n']);
    expect((await runMintgate(["export", "--data", dir])).stdout).toBe(yaml.stdout);
  });

  test("a literal credential in env is refused with its line and nothing changes; one stored before the check keeps running, and its export is refused the same way", async () => {
    const base = tempDir();
    const dir = join(base, "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    expect((await runMintgate(["secrets", "set", "gh-token", "--data", dir], { stdin: "ghp_fromthesecretstore1" })).code).toBe(0);
    const literal = "ghp_literalvalue12345";
    const file = join(base, "mintgate.yaml");
    const write = (token: string) =>
      writeFileSync(file, `connectors:\n  - name: gh\n    kind: stdio\n    command: ${JSON.stringify(process.execPath)}\n    args: [${JSON.stringify(ECHO_STDIO)}]\n    env:\n      GITHUB_TOKEN: "${token}"\n      TOKEN_FILE: /run/secrets/github-token\n`);
    write("${secret:gh-token}");
    expect((await runMintgate(["apply", "-f", file, "--data", dir])).code).toBe(0);
    const before = (await runMintgate(["export", "--data", dir])).stdout;
    const refusal = (line: number) =>
      `mintgate: mintgate.yaml:${line}: env "GITHUB_TOKEN" of connector "gh" holds a literal credential; store it with \`mintgate secrets set NAME\` and write "\${secret:NAME}" instead\n`;
    write(literal);
    expect(await runMintgate(["apply", "-f", file, "--data", dir])).toEqual({ code: 2, stdout: "", stderr: refusal(7) });
    expect((await runMintgate(["export", "--data", dir])).stdout).toBe(before);

    // As a version without the check could have stored it: the gateway still starts the connector with it.
    const db = new Database(join(dir, "mintgate.db"));
    db.run("UPDATE connectors SET spec = json_set(spec, '$.env.GITHUB_TOKEN', ?)", [literal]);
    db.close();
    const gateway = await startGateway({ dataDir: dir });
    try {
      const client = new AdminClient(locateGateway({ dataDir: dir }));
      await waitFor("gh ready", async () => (await client.get<{ name: string; state: string }[]>("/connectors")).find((c) => c.name === "gh")?.state === "ready");
      // Said at start, so whoever runs it hears of it; the value itself never is, and TOKEN_FILE (a path) is not named.
      expect(gateway.output()).toContain(`env "GITHUB_TOKEN" of connector "gh" holds a literal credential, kept in plain text and shown by export, the admin API and the TUI; store it with \`mintgate secrets set NAME\`, write \${secret:NAME} in its place and apply again`);
      expect(gateway.output()).not.toContain(literal);
      expect(gateway.output()).not.toContain('"TOKEN_FILE"');
    } finally {
      await gateway.stop();
    }
    // Its export, applied back, is refused with the same sentence (not a crash), naming the exported file's line.
    const exported = (await runMintgate(["export", "--data", dir])).stdout;
    writeFileSync(file, exported);
    const line = exported.split("\n").findIndex((text) => text.includes("GITHUB_TOKEN")) + 1;
    expect(await runMintgate(["apply", "-f", file, "--data", dir])).toEqual({ code: 2, stdout: "", stderr: refusal(line) });
  });

  test("a user name or password in a connector's url is refused like a literal credential, never quoted; one stored before the check is named at every start", async () => {
    const base = tempDir();
    const dir = join(base, "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const password = "s3cr3t-pass-in-url";
    const file = join(base, "mintgate.yaml");
    const advice = 'remove them from the url, store base64 of "user:password" with `mintgate secrets set NAME` and add the header Authorization: "Basic ${secret:NAME}"';
    for (const url of [`http://ada:${password}@127.0.0.1:1/mcp`, `http://${password}@127.0.0.1:1/mcp`]) {
      writeFileSync(file, `connectors:\n  - name: docs\n    kind: http\n    url: ${url}\n`);
      expect(await runMintgate(["apply", "-f", file, "--data", dir])).toEqual({
        code: 2,
        stdout: "",
        stderr: `mintgate: mintgate.yaml:4: the url of connector "docs" holds a user name or password, which would be kept in plain text and shown by export, the admin API and the TUI; ${advice}\n`,
      });
    }
    expect((await runMintgate(["export", "--data", dir])).stdout).toBe("connectors: []\nvirtualMcps: []\n");

    // As a version without the check could have stored it: serve says so at start, without the password.
    writeFileSync(file, "connectors:\n  - name: docs\n    kind: http\n    url: http://127.0.0.1:1/mcp\n");
    expect((await runMintgate(["apply", "-f", file, "--data", dir])).code).toBe(0);
    const db = new Database(join(dir, "mintgate.db"));
    db.run("UPDATE connectors SET spec = json_set(spec, '$.url', ?)", [`http://ada:${password}@127.0.0.1:1/mcp`]);
    db.close();
    const gateway = await startGateway({ dataDir: dir });
    try {
      expect(gateway.output()).toContain(`the url of connector "docs" holds a user name or password, kept in plain text and shown by export, the admin API and the TUI; ${advice}, then apply again`);
      expect(gateway.output()).not.toContain(password);
    } finally {
      await gateway.stop();
    }
  });

  test("-f given twice is refused and nothing changes, not the last file alone applied (with --prune, the first file's section would be left as it was)", async () => {
    const base = tempDir();
    const dir = join(base, "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const connectors = join(base, "connectors.yaml");
    const virtualMcps = join(base, "virtual-mcps.yaml");
    writeFileSync(connectors, "connectors:\n  - { name: demo, kind: builtin, server: demo }\n");
    writeFileSync(virtualMcps, "virtualMcps:\n  - { slug: team, name: Team, connectors: [{ connector: demo }] }\n");
    expect(await runMintgate(["apply", "-f", connectors, "-f", virtualMcps, "--prune", "--data", dir])).toEqual({
      code: 2,
      stdout: "",
      stderr: `mintgate: \`mintgate apply\` reads one file, and -f was given 2 times ("${connectors}", "${virtualMcps}"); apply them one at a time.\n`,
    });
    expect((await runMintgate(["export", "--data", dir])).stdout).toBe("connectors: []\nvirtualMcps: []\n");
  });

  test("an empty input with --prune is refused instead of deleting everything", async () => {
    const base = tempDir();
    const dir = join(base, "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    writeFileSync(join(base, "x.json"), JSON.stringify(connector("x")));
    expect((await runMintgate(["apply", "-f", join(base, "x.json"), "--data", dir])).code).toBe(0);
    const empty = await runMintgate(["apply", "-f", "-", "--prune", "--data", dir], { stdin: "" });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("lists neither connectors nor virtualMcps");
    // Read as YAML, not searched as text: a section named only in a comment or a value lists nothing.
    const commented = await runMintgate(["apply", "-f", "-", "--prune", "--data", dir], { stdin: "# connectors: moved to other.yaml\n" });
    expect(commented.code).toBe(2);
    expect(commented.stderr).toContain("stdin:1: the file lists neither connectors nor virtualMcps");
    // Without --prune it would change nothing, but "No changes" and exit 0 would hide an input that never came.
    const nothing = await runMintgate(["apply", "-f", "-", "--data", dir], { stdin: "" });
    expect([nothing.code, nothing.stdout]).toEqual([2, ""]);
    expect(nothing.stderr).toContain("stdin:1: the file is empty, so there is nothing to apply (an empty input?)");
    const names = (JSON.parse((await runMintgate(["export", "--json", "--data", dir])).stdout) as { connectors: { name: string }[] }).connectors.map((c) => c.name);
    expect(names).toEqual(["x"]);
  });

  test("the export of an empty configuration lists both sections empty, and applied with --prune empties the gateway", async () => {
    const base = tempDir();
    const dir = join(base, "data");
    const fresh = join(base, "fresh");
    for (const data of [dir, fresh]) expect((await runMintgate(["init", "--data", data])).code).toBe(0);
    writeFileSync(join(base, "x.json"), JSON.stringify(connector("x")));
    expect((await runMintgate(["apply", "-f", join(base, "x.json"), "--data", dir])).code).toBe(0);
    const nothing = join(base, "nothing.yaml");
    expect((await runMintgate(["export", "-o", nothing, "--data", fresh])).code).toBe(0);
    // The very file the refusal of an input that lists nothing asks for.
    expect(await Bun.file(nothing).text()).toBe("connectors: []\nvirtualMcps: []\n");
    expect((await runMintgate(["apply", "-f", nothing, "--prune", "--data", dir])).code).toBe(0);
    expect(JSON.parse((await runMintgate(["export", "--json", "--data", dir])).stdout)).toEqual({ connectors: [], virtualMcps: [] });
  });

  test("--prune compares only the sections the file has: a connectors-only or virtualMcps-only file leaves the other section alone, and each deletion is named", async () => {
    const base = tempDir();
    const dir = join(base, "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const write = (name: string, text: string) => (writeFileSync(join(base, name), text), join(base, name));
    const demo = "  - { name: demo, kind: builtin, server: demo }\n";
    const sales = "  - { slug: sales, name: Sales, connectors: [{ connector: demo }] }\n";
    const full = write("full.yaml", `connectors:\n${demo}  - { name: spare, kind: builtin, server: demo }\nvirtualMcps:\n${sales}  - { slug: eng, name: Eng, connectors: [{ connector: demo }] }\n`);
    expect((await runMintgate(["apply", "-f", full, "--data", dir])).code).toBe(0);
    expect((await runMintgate(["tokens", "create", "--user", "ada@example.com", "--vmcp", "eng", "--data", dir])).code).toBe(0);
    const exported = () => runMintgate(["export", "--data", dir]).then((r) => r.stdout);

    // Connectors only: the Virtual MCPs (and eng's token) stay; only the unlisted connector goes.
    const connectorsOnly = write("connectors.yaml", `connectors:\n${demo}`);
    expect(await runMintgate(["apply", "-f", connectorsOnly, "--prune", "--data", dir])).toEqual({ code: 0, stdout: "deleted connector spare\n", stderr: "" });
    // Virtual MCPs only, attaching the stored connector: eng goes, named with the token that goes with it (the dry run first).
    const vmcpsOnly = write("vmcps.yaml", `virtualMcps:\n${sales}`);
    expect((await runMintgate(["apply", "-f", vmcpsOnly, "--prune", "--dry-run", "--data", dir])).stdout).toBe("would delete virtual MCP eng (with its 1 access token)\n");
    // --json says it in the same words: a script reading the dry run is not told it was done.
    expect(JSON.parse((await runMintgate(["apply", "-f", vmcpsOnly, "--prune", "--dry-run", "--json", "--data", dir])).stdout)).toEqual({ changes: ["would delete virtual MCP eng (with its 1 access token)"] });
    expect((await runMintgate(["apply", "-f", vmcpsOnly, "--prune", "--data", dir])).stdout).toBe("deleted virtual MCP eng (with its 1 access token)\n");

    // A file cut short after a key, and a connector a kept Virtual MCP attaches: refused, nothing changes.
    const cut = await runMintgate(["apply", "-f", write("cut.yaml", `connectors:\n${demo}virtualMcps:\n`), "--prune", "--data", dir]);
    expect([cut.code, cut.stderr]).toEqual([2, 'mintgate: cut.yaml:3: "virtualMcps" has no value, and pruning would delete every virtual MCP; write "virtualMcps: []" to do that, or leave the key out to keep them\n']);
    const noConnectors = await runMintgate(["apply", "-f", write("none.yaml", "connectors: []\n"), "--prune", "--data", dir]);
    expect([noConnectors.code, noConnectors.stderr]).toEqual([1, 'mintgate: Connector "demo" would be deleted, but virtual MCP "sales" attaches it; keep the connector, or list "sales" without it under "virtualMcps".\n']);
    const after = await exported();
    expect(after).toBe(`connectors:\n  - name: demo\n    kind: builtin\n    server: demo\n\nvirtualMcps:\n  - slug: sales\n    name: Sales\n    connectors:\n      - connector: demo\n`);

    // An empty section is the whole of it; the export, with both sections always, applies back with no change.
    expect((await runMintgate(["apply", "-f", write("empty.yaml", "virtualMcps: []\n"), "--prune", "--dry-run", "--data", dir])).stdout).toBe("would delete virtual MCP sales\n");
    expect(await runMintgate(["apply", "-f", write("export.yaml", after), "--prune", "--data", dir])).toEqual({ code: 0, stdout: "No changes: the configuration already matches the file.\n", stderr: "" });
  });
});

describe("AdminClient", () => {
  test("takes up a new admin token written while it runs (the TUI keeps working after `init` replaced a lost one)", async () => {
    const dataDir = join(tempDir(), "data");
    const gateway = await startGateway({ dataDir });
    try {
      const client = new AdminClient(locateGateway({ dataDir }));
      expect((await client.status()).dataDir).toBe(dataDir);
      const tokenFile = join(dataDir, "admin.token");
      const before = readFileSync(tokenFile, "utf8");
      rmSync(tokenFile);
      expect((await runMintgate(["init", "--data", dataDir])).code).toBe(0);
      expect(readFileSync(tokenFile, "utf8")).not.toBe(before);
      expect((await client.status()).dataDir).toBe(dataDir);
    } finally {
      await gateway.stop();
    }
  });

  test("follows the local gateway through a restart on another port (the TUI keeps working)", async () => {
    const dataDir = join(tempDir(), "data");
    const first = await startGateway({ dataDir });
    const client = new AdminClient(locateGateway({ dataDir }));
    expect((await client.status()).dataDir).toBe(dataDir);
    const firstUrl = client.url;
    await first.stop();
    const second = await startGateway({ dataDir });
    try {
      expect(second.url).not.toBe(firstUrl);
      expect((await client.status()).dataDir).toBe(dataDir);
      expect(client.url).toBe(second.url);
    } finally {
      await second.stop();
    }
    // A URL without its scheme is a usage error that shows the fix.
    const bare = await runMintgate(["status", "--url", "127.0.0.1:8080", "--data", dataDir]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toBe('mintgate: --url must be a full URL such as http://127.0.0.1:8080, not "127.0.0.1:8080".\n');
    // Another scheme is not given http:// in front of it (it was told "such as http://ftp://host").
    const ftp = await runMintgate(["status", "--url", "ftp://127.0.0.1:8080", "--data", dataDir]);
    expect([ftp.code, ftp.stderr]).toEqual([2, 'mintgate: --url must be a full URL such as http://127.0.0.1:8080, not "ftp://127.0.0.1:8080".\n']);
    // With the URL given explicitly there is nothing to follow: the error says the gateway is unreachable.
    const pinned = new AdminClient(locateGateway({ dataDir, url: firstUrl }));
    await expect(pinned.status()).rejects.toThrow("Cannot reach the gateway");
  });
});
