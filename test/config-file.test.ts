import { describe, expect, test } from "bun:test";
import {
  decodeConfigFile,
  parseConfigFile,
  parseConfigFileSections,
  parsePolicyText,
  parseVirtualMcpText,
  SECRET_REFERENCE,
  secretReferencesIn,
  serializeConfigFile,
  type GatewayConfig,
} from "../src/config-file/index.ts";
import { MintgateError } from "../src/errors/index.ts";
import type { ConnectorDefinition } from "../src/connectors/index.ts";

const SECRETS = new Set(["everything-key", "docs-token"]);

const EXAMPLE = `connectors:
  - name: everything
    kind: stdio                 # stdio | http | sse | builtin
    command: npx
    args: ["-y", "@modelcontextprotocol/server-everything"]
    cwd: /srv                   # optional
    env: { API_KEY: "\${secret:everything-key}" }
    timeout: 60s                # optional; ms|s|m units, default 60s
  - name: docs
    kind: http                  # or sse
    url: https://mcp.example.com/mcp
    headers: { Authorization: "Bearer \${secret:docs-token}" }
  - name: demo
    kind: builtin
    server: demo
virtualMcps:
  - slug: sales
    name: Sales Intelligence
    description: "..."          # optional, default ""
    newTools: approve           # auto | approve, default auto
    connectors:
      - connector: everything
        prefix: ev              # optional, default = connector name
        include: [echo, get-sum] # or exclude: [...]; not both
        rename: { get-sum: sum }
        describe: { echo: "Repeat the text back" }
`;

const EXAMPLE_CONFIG: GatewayConfig = {
  connectors: [
    {
      name: "everything",
      spec: {
        kind: "stdio",
        command: "npx",
        args: ["-y", "@modelcontextprotocol/server-everything"],
        cwd: "/srv",
        env: { API_KEY: "${secret:everything-key}" },
      },
      timeoutMs: 60_000,
    },
    {
      name: "docs",
      spec: {
        kind: "http",
        url: "https://mcp.example.com/mcp",
        headers: { Authorization: "Bearer ${secret:docs-token}" },
      },
      timeoutMs: 60_000,
    },
    { name: "demo", spec: { kind: "builtin", server: "demo" }, timeoutMs: 60_000 },
  ],
  virtualMcps: [
    {
      slug: "sales",
      name: "Sales Intelligence",
      description: "...",
      newTools: "approve",
      connectors: [
        {
          connector: "everything",
          prefix: "ev",
          include: ["echo", "get-sum"],
          rename: { "get-sum": "sum" },
          describe: { echo: "Repeat the text back" },
        },
      ],
    },
  ],
};

/** The problem lines of a file that must not parse. */
function problemsOf(text: string, knownSecrets: ReadonlySet<string> = SECRETS): string[] {
  try {
    parseConfigFile(text, { knownSecrets });
  } catch (error) {
    expect(error).toBeInstanceOf(MintgateError);
    expect((error as MintgateError).kind).toBe("invalid");
    return (error as MintgateError).message.split("\n");
  }
  throw new Error("expected the file to be rejected");
}

/** Lines 1-2 hold `connectors:` and a valid stdio connector named "a"; line 3 onwards is yours. */
const withConnector = (rest: string) => `connectors:\n  - { name: a, kind: stdio, command: a }\n${rest}`;

describe("parseConfigFile: valid files", () => {
  test("the documented example parses to the expected definitions", () => {
    expect(parseConfigFile(EXAMPLE, { knownSecrets: SECRETS })).toEqual(EXAMPLE_CONFIG);
  });

  test("sections present but empty are an empty config; a file with nothing in it (empty, comments, {}) is refused as an input that never came", () => {
    expect(parseConfigFile("connectors:\nvirtualMcps: []\n", { knownSecrets: new Set() })).toEqual({ connectors: [], virtualMcps: [] });
    for (const text of ["", "\n", "# nothing yet\n", "{}", "---\n"]) {
      expect(() => parseConfigFile(text, { knownSecrets: new Set() })).toThrow("mintgate.yaml:1: the file is empty, so there is nothing to apply (an empty input?)");
    }
  });

  test("defaults: timeout 60s, no args/env, prefix = connector name, auto, empty description", () => {
    const config = parseConfigFile(
      `connectors:
  - name: s
    kind: stdio
    command: ./server
  - name: remote
    kind: sse
    url: http://127.0.0.1:9000/sse
virtualMcps:
  - slug: team
    name: Team
    connectors:
      - connector: s
      - connector: remote
        prefix: ""
`,
      { knownSecrets: new Set() },
    );
    expect(config.connectors[0]).toEqual({
      name: "s",
      spec: { kind: "stdio", command: "./server", args: [], env: {} },
      timeoutMs: 60_000,
    });
    expect(config.connectors[0]?.spec).not.toHaveProperty("cwd");
    expect(config.connectors[1]).toEqual({
      name: "remote",
      spec: { kind: "sse", url: "http://127.0.0.1:9000/sse", headers: {} },
      timeoutMs: 60_000,
    });
    const [team] = config.virtualMcps;
    expect(team).toEqual({
      slug: "team",
      name: "Team",
      description: "",
      newTools: "auto",
      connectors: [
        { connector: "s", prefix: "s", rename: {}, describe: {} },
        { connector: "remote", prefix: "", rename: {}, describe: {} },
      ],
    });
    expect(team?.connectors[0]).not.toHaveProperty("include");
    expect(team?.connectors[0]).not.toHaveProperty("exclude");
  });

  test("timeouts in ms, s, m or bare milliseconds, from 1s to 1h", () => {
    const timeoutOf = (value: string) =>
      parseConfigFile(`connectors:\n  - { name: a, kind: builtin, server: demo, timeout: ${value} }\n`, {
        knownSecrets: new Set(),
      }).connectors[0]?.timeoutMs;
    expect(timeoutOf("1500ms")).toBe(1_500);
    expect(timeoutOf("30s")).toBe(30_000);
    expect(timeoutOf("2m")).toBe(120_000);
    expect(timeoutOf("5000")).toBe(5_000);
    expect(timeoutOf('"5000"')).toBe(5_000);
    expect(timeoutOf("1s")).toBe(1_000);
    expect(timeoutOf("60m")).toBe(3_600_000);
  });

  test("anchors and aliases are followed", () => {
    const config = parseConfigFile(
      `connectors:
  - name: one
    kind: http
    url: https://one.example/mcp
    headers: &auth { Authorization: "Bearer \${secret:docs-token}" }
  - name: two
    kind: http
    url: https://two.example/mcp
    headers: *auth
`,
      { knownSecrets: SECRETS },
    );
    expect(config.connectors[1]?.spec).toEqual({
      kind: "http",
      url: "https://two.example/mcp",
      headers: { Authorization: "Bearer ${secret:docs-token}" },
    });
  });

  test("a file of many aliases is read in one pass over it, not one per alias (the yaml library's own lookup took minutes)", () => {
    const aliases = 30_000;
    const text = `connectors:\n  - name: many\n    kind: stdio\n    command: node\n    args: [&arg x, ${Array(aliases).fill("*arg").join(", ")}]\n`;
    const started = performance.now();
    const config = parseConfigFile(text, { knownSecrets: SECRETS });
    // Linear, it takes a fraction of a second; one document walk per alias took about 38 s on a 2-core machine.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect((config.connectors[0]?.spec as { args: string[] }).args).toEqual(Array(aliases + 1).fill("x"));
  });

  test("pins holding aliases are read in one pass over the file, and one that expands past 10,000 values through them is refused", () => {
    const pins = 1_200;
    const argumentsText = Array.from({ length: pins }, (_, i) => `          a${i}: { pin: [*label] }\n`).join("");
    const text = withConnector(`virtualMcps:\n  - slug: v\n    name: V\n    description: &label triage\n    connectors: [{ connector: a }]\n    tools:\n      a__t:\n        arguments:\n${argumentsText}`);
    const started = performance.now();
    const rules = parseConfigFile(text, { knownSecrets: SECRETS }).virtualMcps[0]!.policy?.tools?.["a__t"]?.arguments ?? {};
    // Linear, a fraction of a second; the yaml library's toJS walked the whole file for each pin (about 20 s on a 2-core machine).
    expect(performance.now() - started).toBeLessThan(5_000);
    expect([Object.keys(rules).length, rules["a7"]]).toEqual([pins, { pin: ["triage"] }]);
    // Each level doubles what the one before holds ("billion laughs"): the 12th holds 3 × 2^12 - 1 values.
    const levels = Array.from({ length: 12 }, (_, i) => `          l${i + 1}: { allowed: [&l${i + 1} [*l${i}, *l${i}]] }\n`).join("");
    expect(problemsOf(withConnector(`virtualMcps:\n  - slug: v\n    name: V\n    connectors: [{ connector: a }]\n    tools:\n      a__t:\n        arguments:\n          l0: { pin: &l0 [x] }\n${levels}`))).toEqual([
      'mintgate.yaml:22: "allowed" of argument "l12" of tool "a__t" in virtual MCP "v" holds more than 10000 values once its aliases are followed; write it with fewer aliases',
    ]);
  });

  test("exclude lists, and include [] (expose nothing), are kept as written", () => {
    const config = parseConfigFile(
      withConnector(`  - { name: b, kind: builtin, server: demo }
virtualMcps:
  - slug: x
    name: X
    connectors:
      - { connector: a, exclude: [danger], rename: { safe: careful } }
      - { connector: b, include: [] }
`),
      { knownSecrets: new Set() },
    );
    expect(config.virtualMcps[0]?.connectors).toEqual([
      { connector: "a", prefix: "a", exclude: ["danger"], rename: { safe: "careful" }, describe: {} },
      { connector: "b", prefix: "b", include: [], rename: {}, describe: {} },
    ]);
  });
});

describe("parseConfigFile: each rule names the line of the offending node", () => {
  test("unknown top-level key, with a guess at the intended one", () => {
    expect(problemsOf("connectors: []\nvirtualMCPs: []\n")).toEqual([
      'mintgate.yaml:2: unknown key "virtualMCPs" at the top level; did you mean "virtualMcps"?',
    ]);
    expect(problemsOf("version: 1\n")).toEqual([
      'mintgate.yaml:1: unknown key "version" at the top level; expected one of: connectors, virtualMcps',
    ]);
  });

  test("an argument pattern that backtracks catastrophically on a crafted argument is refused; a linear one is kept", () => {
    const policy = (pattern: string) =>
      withConnector(`virtualMcps:\n  - slug: v\n    name: V\n    connectors: [{ connector: a }]\n    tools:\n      a__t:\n        arguments:\n          x: { pattern: ${JSON.stringify(pattern)} }\n`);
    const problems = problemsOf(policy("^(a+)+$"));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith("mintgate.yaml:10: ");
    expect(problems[0]).toContain("repeats a group that itself repeats");
    for (const nested of ["(\\d+)*", "^(\\w+\\s?)*$", "([a-z]+)*"]) expect(problemsOf(policy(nested)).join("\n")).toContain("repeats a group");
    // Alternatives or inner groups that can match the same text, so the repeats can split it in many ways.
    for (const ambiguous of ["^(a|a?)+$", "^(\\d|\\w)+$", "^(([a-z])+.)+[A-Z]([a-z])+$", "^([a-zA-Z0-9])(([\\-.]|[_]+)?([a-zA-Z0-9]+))*@[a-z0-9]+$"]) {
      expect(problemsOf(policy(ambiguous)).join("\n")).toContain("can match the same text in many ways");
    }
    for (const linear of ["^[a-z]+(-[a-z]+)*$", "^[A-Z]", "^(ab)+$", "^(get|put)+$", "^(feat|fix)(\\(.+\\))?: .+$"]) {
      const parsed = parseConfigFile(policy(linear), { knownSecrets: SECRETS });
      expect(parsed.virtualMcps[0]!.policy?.tools?.["a__t"]?.arguments?.x?.pattern).toBe(linear);
    }
  });

  test("aliases inside pin and allowed values resolve; a self-referring one, a NUL in args or env, and an empty prefix are refused", () => {
    const withPolicy = (args: string) =>
      withConnector(`virtualMcps:\n  - slug: v\n    name: V\n    description: &label triage\n    connectors: [{ connector: a }]\n    tools:\n      a__t:\n        arguments:\n${args}`);
    const parsed = parseConfigFile(withPolicy("          labels: { pin: [*label, urgent], allowed: [[*label, urgent]] }\n"), { knownSecrets: SECRETS });
    expect(parsed.virtualMcps[0]!.policy?.tools?.["a__t"]?.arguments?.labels).toEqual({ pin: ["triage", "urgent"], allowed: [["triage", "urgent"]] });
    expect(problemsOf(withPolicy("          text: &c { pin: [*c] }\n"))).toEqual([
      'mintgate.yaml:11: "pin" of argument "text" of tool "a__t" in virtual MCP "v" refers to itself through an alias',
    ]);
    expect(problemsOf('connectors:\n  - { name: a, kind: stdio, command: a, args: ["x\\0y"] }\n').join("\n")).toContain("contains a NUL character");
    expect(problemsOf('connectors:\n  - { name: a, kind: stdio, command: a, env: { K: "x\\0y" } }\n').join("\n")).toContain("contains a NUL character");
    // A Virtual MCP's name is shown as one line (TUI, status, AI clients): no ESC sequences (C0 or C1), no line breaks, no bidi overrides.
    for (const [name, found] of [['"Sales\\e]0;owned\\a"', "the control character U+001B"], ['"two\\nlines"', "the line break U+000A"], ['"C1 \\u009b2J"', "the control character U+009B"], ['"Evil\\u202eedualc"', "the bidirectional control U+202E"]]) {
      expect(problemsOf(`connectors:\n  - { name: a, kind: builtin, server: demo }\nvirtualMcps:\n  - { slug: s, name: ${name}, connectors: [{ connector: a }] }\n`)).toEqual([
        `mintgate.yaml:4: the name of virtual MCP "s" contains ${found}; remove it: it must be one line, without control characters or bidirectional controls`,
      ]);
    }
    // Edge spaces in a name or URL cannot be meant, and the TUI trims them: the file refuses them rather than keep what the TUI would change.
    expect(problemsOf(`connectors:\n  - { name: a, kind: builtin, server: demo }\nvirtualMcps:\n  - { slug: s, name: " Sales ", connectors: [{ connector: a }] }\n`)).toEqual([
      'mintgate.yaml:4: the name of virtual MCP "s" starts or ends with a space; remove it',
    ]);
    expect(problemsOf('connectors:\n  - { name: a, kind: stdio, command: a, env: { " KEY": v, "K2 ": v } }\n')).toEqual([
      'mintgate.yaml:2: environment variable name " KEY" of connector "a" starts or ends with a space; remove it',
      'mintgate.yaml:2: environment variable name "K2 " of connector "a" starts or ends with a space; remove it',
    ]);
    expect(problemsOf('connectors:\n  - { name: a, kind: http, url: "https://x.example/mcp " }\n')).toEqual(['mintgate.yaml:2: the url of connector "a" starts or ends with a space; remove it']);
    // Values keep theirs: a command, a cwd, an env or header value may mean its spaces.
    const spaced = parseConfigFile('connectors:\n  - { name: a, kind: stdio, command: " my tool ", cwd: "/srv/a b ", env: { K: " v " } }\n  - { name: h, kind: http, url: "https://x.example/mcp", headers: { X-K: " v " } }\n', { knownSecrets: SECRETS });
    expect(spaced.connectors.map((c) => c.spec)).toEqual([
      { kind: "stdio", command: " my tool ", args: [], cwd: "/srv/a b ", env: { K: " v " } },
      { kind: "http", url: "https://x.example/mcp", headers: { "X-K": " v " } },
    ]);
    expect(problemsOf(withConnector("virtualMcps:\n  - slug: v\n    name: V\n    connectors:\n      - connector: a\n        prefix:\n"))).toEqual([
      'mintgate.yaml:8: the prefix of connector "a" in virtual MCP "v" has no value; write prefix: "" to expose the upstream names unchanged, or remove the key to use the connector\'s name',
    ]);
    expect(parseConfigFile('connectors:\n  - { name: a, kind: stdio, command: a, timeout: 1h }\n', { knownSecrets: SECRETS }).connectors[0]!.timeoutMs).toBe(3_600_000);
  });

  test("half of a surrogate pair is refused in any text (the store would keep U+FFFD, so apply would never match); a whole pair is kept", () => {
    const file = (description: string, env: string) =>
      `connectors:\n  - { name: a, kind: stdio, command: a, env: { K: "${env}" } }\nvirtualMcps:\n  - slug: v\n    name: V\n    description: "${description}"\n`;
    expect(problemsOf(file("x\\uD800", "ok"))).toEqual([
      'mintgate.yaml:6: the description of virtual MCP "v" contains "\\uD800" on its own, half of a character; write the whole character (both halves of the pair) or remove it',
    ]);
    expect(problemsOf(file("ok", "\\uDC00y"))).toEqual([
      'mintgate.yaml:2: env "K" of connector "a" contains "\\uDC00" on its own, half of a character; write the whole character (both halves of the pair) or remove it',
    ]);
    expect(parseConfigFile(file("\\uD83D\\uDE42", "ok"), { knownSecrets: SECRETS }).virtualMcps[0]!.description).toBe("🙂");
  });

  test("pin and allowed values JSON cannot hold are refused, not stored as null or a string (export would not apply back)", () => {
    const withArguments = (args: string) =>
      withConnector(`virtualMcps:\n  - slug: v\n    name: V\n    connectors: [{ connector: a }]\n    tools:\n      a__t:\n        arguments:\n${args}`);
    const holds = (what: string) => `${what}, which JSON cannot hold; write a string, number, true, false, null, list or mapping`;
    expect(problemsOf(withArguments("          a: { pin: .inf }\n          b: { pin: [1, .nan] }\n          c: { allowed: [1, -.inf] }\n          d: { pin: !!timestamp 2024-01-01 }\n          e: { pin: !!set { x } }\n"))).toEqual([
      `mintgate.yaml:10: ${holds('"pin" of argument "a" of tool "a__t" in virtual MCP "v" holds the number Infinity')}`,
      `mintgate.yaml:11: ${holds('"pin" of argument "b" of tool "a__t" in virtual MCP "v" holds the number NaN')}`,
      `mintgate.yaml:12: ${holds('"allowed" of argument "c" of tool "a__t" in virtual MCP "v" holds the number -Infinity')}`,
      `mintgate.yaml:13: ${holds('"pin" of argument "d" of tool "a__t" in virtual MCP "v" holds a Date value')}`,
      `mintgate.yaml:14: ${holds('"pin" of argument "e" of tool "a__t" in virtual MCP "v" holds a !!set value')}`,
    ]);
  });

  test("required: true is kept and exported; false (the default) is dropped; beside pin, or a pin its own checks refuse, is refused", () => {
    const withArguments = (args: string) =>
      withConnector(`virtualMcps:\n  - slug: v\n    name: V\n    connectors: [{ connector: a }]\n    tools:\n      a__t:\n        arguments:\n${args}`);
    const parsed = parseConfigFile(withArguments("          a: { required: true, allowed: [eu] }\n          b: { pin: 3, required: false, max: 5 }\n"), { knownSecrets: SECRETS });
    expect(parsed.virtualMcps[0]!.policy?.tools?.["a__t"]?.arguments).toEqual({ a: { required: true, allowed: ["eu"] }, b: { pin: 3, max: 5 } });
    expect(parseConfigFile(serializeConfigFile(parsed), { knownSecrets: SECRETS })).toEqual(parsed);
    const label = (name: string) => `of argument "${name}" of tool "a__t" in virtual MCP "v"`;
    expect(problemsOf(withArguments("          a: { required: false }\n          b: { required: 1 }\n          c: { pin: x, pattern: \"^y\" }\n          d: { pin: 12, max: 10 }\n          e: { pin: abcd, maxLength: 3 }\n          f: { pin: x, allowed: [x], required: false }\n"))).toEqual([
      `mintgate.yaml:10: argument "a" of tool "a__t" in virtual MCP "v" has no checks; give it any of: pin, onMismatch, required, allowed, pattern, max, maxLength`,
      `mintgate.yaml:11: "required" ${label("b")} must be true or false`,
      `mintgate.yaml:12: "pin" ${label("c")} would refuse every call, as its own "pattern" says the pinned value must match /^y/; "x" does not; change the pin or remove "pattern"`,
      `mintgate.yaml:13: "pin" ${label("d")} would refuse every call, as its own "max" says the pinned value must be at most 10, not 12; change the pin or remove "max"`,
      `mintgate.yaml:14: "pin" ${label("e")} would refuse every call, as its own "maxLength" says the pinned value must be at most 3 characters long, not 4; change the pin or remove "maxLength"`,
    ]);
  });

  test("an empty policy section is dropped, so export then apply sees no change", () => {
    const parsed = parseConfigFile(withConnector("virtualMcps:\n  - slug: v\n    name: V\n    access: { everyone: true }\n    connectors: [{ connector: a }]\n    tools: {}\n    prompts: {}\n"), { knownSecrets: SECRETS });
    expect(parsed.virtualMcps[0]!.policy).toEqual({ access: { everyone: true } });
  });

  test("a group name no person can be in (edge spaces, a control character, over 256 characters) is refused: a deny naming it would deny no one", () => {
    const long = "g".repeat(257);
    expect(problemsOf(withConnector(`virtualMcps:\n  - slug: s\n    name: S\n    access: { groups: ["sales ", "eng\\u202e"] }\n    tools:\n      a__x: { deny: { groups: [${long}] } }\n`))).toEqual([
      'mintgate.yaml:6: "sales " in "groups" of "access" of virtual MCP "s" starts or ends with a space, which no group name does; remove it',
      `mintgate.yaml:6: "eng\\u202e" in "groups" of "access" of virtual MCP "s" holds the bidirectional control U+202E, which people's groups hold escaped; write it as the gateway keeps it: 'eng\\u202e'`,
      `mintgate.yaml:8: "${long.slice(0, 20)}…" in "groups" of "deny" of tool "a__x" in virtual MCP "s" is longer than 256 characters, which no group name is`,
    ]);
    // The escaped form, as a sign-in keeps such a group, is a name like any other.
    expect(parseConfigFile(withConnector("virtualMcps:\n  - slug: s\n    name: S\n    access: { groups: ['eng\\u202e'] }\n"), { knownSecrets: SECRETS }).virtualMcps[0]?.policy?.access).toEqual({ groups: ["eng\\u202e"] });
  });

  test("the file must be a mapping, and its sections lists", () => {
    expect(problemsOf("- a\n- b\n")).toEqual([
      'mintgate.yaml:1: the file must be a mapping with the lists "connectors" and "virtualMcps"',
    ]);
    expect(problemsOf("connectors:\n  name: a\n")).toEqual(['mintgate.yaml:2: "connectors" must be a list of connectors']);
  });

  test("unknown keys in connectors, virtual MCPs and attachments (typos)", () => {
    const problems = problemsOf(
      withConnector(`virtualMcps:
  - slug: x
    name: X
    descripton: typo
    connectors:
      - connector: a
        renames: { x: y }
`),
    );
    expect(problems).toEqual([
      'mintgate.yaml:6: unknown key "descripton" in virtual MCP "x"; did you mean "description"?',
      'mintgate.yaml:9: unknown key "renames" in connector "a" in virtual MCP "x"; did you mean "rename"?',
    ]);
    expect(problemsOf("connectors:\n  - name: a\n    kind: stdio\n    comand: npx\n")).toEqual([
      'mintgate.yaml:2: stdio connector "a" has no "command"',
      'mintgate.yaml:4: unknown key "comand" in connector "a"; did you mean "command"?',
    ]);
  });

  test("a merge key (<<) is refused with what to write instead, under YAML 1.2 and %YAML 1.1 alike", () => {
    const file = "connectors:\n  - &base { name: one, kind: builtin, server: demo }\n  - <<: *base\n    name: two\n";
    const expected = [
      'mintgate.yaml:3: merge keys ("<<") are not supported in connector "two"; write the keys out (an alias such as *name can still stand for a whole value)',
      'mintgate.yaml:3: connector "two" has no "kind"; expected stdio, http, sse or builtin',
    ];
    expect(problemsOf(file)).toEqual(expected);
    expect(problemsOf(`%YAML 1.1\n---\n${file}`)).toEqual(expected.map((line) => line.replace(":3:", ":5:")));
    // Nor inside env, headers, rename, describe or a policy section, where "<<" would otherwise be taken as a name.
    expect(problemsOf("connectors:\n  - name: s\n    kind: stdio\n    command: x\n    env: { <<: { A: b }, C: d }\n")).toEqual([
      'mintgate.yaml:5: merge keys ("<<") are not supported in "env" of connector "s"; write the keys out (an alias such as *name can still stand for a whole value)',
    ]);
    expect(problemsOf(withConnector('virtualMcps:\n  - slug: v\n    name: V\n    connectors: [{ connector: a }]\n    tools: { <<: { a__t: { deny: { users: [x@y.z] } } } }\n'))).toEqual([
      'mintgate.yaml:7: merge keys ("<<") are not supported in "tools" of virtual MCP "v"; write the keys out (an alias such as *name can still stand for a whole value)',
    ]);
  });

  test("the likeliest wrong shapes say what to write instead", () => {
    expect(problemsOf('connectors:\n  - { name: a, kind: stdio, command: [npx, -y, server] }\n  - { name: b, kind: stdio, command: npx, args: "-y  @scope/server" }\n')).toEqual([
      'mintgate.yaml:2: the command of connector "a" must be a string: put the program in "command" and the rest in "args"',
      'mintgate.yaml:3: "args" of connector "b" must be a list of strings, one per argument: args: ["-y", "@scope/server"]',
    ]);
    expect(problemsOf(withConnector("virtualMcps:\n  - slug: v\n    name: V\n    connectors: [a]\n"))).toEqual([
      'mintgate.yaml:6: attachment #1 of virtual MCP "v" must be a mapping with at least "connector"; write { connector: a }',
    ]);
  });

  test("a key given twice is reported with both lines", () => {
    expect(problemsOf("connectors:\n  - name: a\n    kind: builtin\n    server: demo\n    kind: stdio\n")).toEqual([
      'mintgate.yaml:5: key "kind" appears twice in connector "a" (first on line 3)',
    ]);
  });

  test("connector names match CONNECTOR_NAME and are unique", () => {
    expect(
      problemsOf(`connectors:
  - { name: "has space", kind: builtin, server: demo }
  - { name: dup, kind: builtin, server: demo }
  - { name: dup, kind: builtin, server: demo }
  - { kind: builtin, server: demo }
`),
    ).toEqual([
      'mintgate.yaml:2: connector name "has space" must be 1 to 32 letters, digits, "_" or "-"',
      'mintgate.yaml:4: connector name "dup" is already used by the connector on line 3',
      'mintgate.yaml:5: connector #4 has no "name"',
    ]);
  });

  test("kind is required and one of stdio, http, sse, builtin", () => {
    expect(problemsOf("connectors:\n  - name: a\n  - name: b\n    kind: grpc\n")).toEqual([
      'mintgate.yaml:2: connector "a" has no "kind"; expected stdio, http, sse or builtin',
      'mintgate.yaml:4: connector "b" has kind "grpc"; expected stdio, http, sse or builtin',
    ]);
  });

  test("kind-specific fields: required ones present, others rejected", () => {
    expect(
      problemsOf(`connectors:
  - name: s
    kind: stdio
    command: ""
    url: https://x.example
  - name: h
    kind: http
    command: npx
  - name: u
    kind: sse
    url: ftp://files.example
  - name: b
    kind: builtin
    server: other
  - name: c
    kind: builtin
`),
    ).toEqual([
      'mintgate.yaml:4: the command of connector "s" must not be empty',
      'mintgate.yaml:5: "url" does not apply to stdio connector "s"; a stdio connector takes: name, kind, timeout, command, args, cwd, env',
      'mintgate.yaml:6: http connector "h" has no "url"',
      'mintgate.yaml:8: "command" does not apply to http connector "h"; a http connector takes: name, kind, timeout, url, headers',
      'mintgate.yaml:11: the url of connector "u" must be an http:// or https:// URL, not "ftp://files.example"',
      'mintgate.yaml:14: builtin connector "b" has server "other"; the only built-in server is "demo"',
      'mintgate.yaml:15: builtin connector "c" has no "server"; the only built-in server is "demo"',
    ]);
  });

  test("args, env and header values are strings", () => {
    expect(
      problemsOf(`connectors:
  - name: s
    kind: stdio
    command: server
    args: [--port, 8080]
    env:
      PORT: 8080
      DEBUG: true
      NAME: ok
  - name: h
    kind: http
    url: https://x.example/mcp
    headers:
      X-Retries: 3
      "bad header": x
      Authorization: Bearer a
      authorization: Bearer b
`),
    ).toEqual([
      'mintgate.yaml:5: argument #2 of connector "s" must be a string; quote it: "8080"',
      'mintgate.yaml:7: env "PORT" of connector "s" must be a string; quote it: "8080"',
      'mintgate.yaml:8: env "DEBUG" of connector "s" must be a string; quote it: "true"',
      'mintgate.yaml:14: header "X-Retries" of connector "h" must be a string; quote it: "3"',
      'mintgate.yaml:15: "bad header" in "headers" of connector "h" is not a valid HTTP header name',
      'mintgate.yaml:17: header "authorization" of connector "h" is "Authorization" again (first on line 16): header names ignore case; keep one',
    ]);
  });

  test("timeout: a duration between 1s and 1h", () => {
    expect(
      problemsOf(`connectors:
  - { name: a, kind: builtin, server: demo, timeout: 500ms }
  - { name: b, kind: builtin, server: demo, timeout: 61m }
  - { name: c, kind: builtin, server: demo, timeout: 1.5s }
  - { name: d, kind: builtin, server: demo, timeout: [1] }
  - { name: e, kind: builtin, server: demo, timeout: 30 }
`),
    ).toEqual([
      'mintgate.yaml:2: the timeout of connector "a" is "500ms"; it must be between 1s and 1h',
      'mintgate.yaml:3: the timeout of connector "b" is "61m"; it must be between 1s and 1h',
      'mintgate.yaml:4: the timeout of connector "c" is "1.5s"; write a duration like 500ms, 30s or 2m, or a whole number of milliseconds',
      'mintgate.yaml:5: the timeout of connector "d" must be a duration like 500ms, 30s or 2m, or a whole number of milliseconds',
      'mintgate.yaml:6: the timeout of connector "e" is "30"; it must be between 1s and 1h (a number without a unit is milliseconds: write 30s for seconds)',
    ]);
  });

  test("unknown secret referenced in env or headers", () => {
    expect(
      problemsOf(
        `connectors:
  - name: everything
    kind: stdio
    command: npx
    env:
      API_KEY: "\${secret:everything-key}"
      OTHER: "\${secret:missing-key}"
  - name: docs
    kind: http
    url: https://mcp.example.com/mcp
    headers: { Authorization: "Bearer \${secret:docs-tokn}" }
`,
      ),
    ).toEqual([
      'mintgate.yaml:7: unknown secret "missing-key" referenced by connector "everything"; set it with `mintgate secrets set missing-key`',
      'mintgate.yaml:11: unknown secret "docs-tokn" referenced by connector "docs"; set it with `mintgate secrets set docs-tokn`',
    ]);
  });

  test("a malformed ${secret: reference, and references where they are not resolved", () => {
    const problems = problemsOf(`connectors:
  - name: s
    kind: stdio
    command: server
    args: ["--token=\${secret:docs-token}"]
    env:
      A: "\${secret:docs-token"
      B: "\${secret:9lives}"
      C: "\${secret:}"
      "\${secret:docs-token}": x
`);
    expect(problems).toEqual([
      'mintgate.yaml:5: argument #1 of connector "s" contains a secret reference, but secrets are resolved only in "env" and "headers" values',
      'mintgate.yaml:7: malformed secret reference "${secret:docs-token" in env "A" of connector "s"; write ${secret:NAME}, where NAME starts with a letter and has only letters, digits, "_", "." or "-"',
      'mintgate.yaml:8: malformed secret reference "${secret:9lives}" in env "B" of connector "s"; write ${secret:NAME}, where NAME starts with a letter and has only letters, digits, "_", "." or "-"',
      'mintgate.yaml:9: malformed secret reference "${secret:}" in env "C" of connector "s"; write ${secret:NAME}, where NAME starts with a letter and has only letters, digits, "_", "." or "-"',
      'mintgate.yaml:10: the environment variable name "${secret:docs-token}" of connector "s" contains a secret reference, but secrets are resolved only in "env" and "headers" values',
    ]);
  });

  test("a reference spelt in another case or with spaces (${SECRET:x}, ${ secret:x }) is malformed, not text sent as written", () => {
    const malformed = (line: number, excerpt: string, entry: string) =>
      `mintgate.yaml:${line}: malformed secret reference "${excerpt}" in env "${entry}" of connector "s"; write \${secret:NAME}, where NAME starts with a letter and has only letters, digits, "_", "." or "-"`;
    expect(problemsOf(`connectors:\n  - name: s\n    kind: stdio\n    command: server\n    env:\n      A: "\${SECRET:docs-token}"\n      B: "x \${ secret:docs-token }"\n      C: "\${Secret :docs-token}"\n`)).toEqual([
      malformed(6, "${SECRET:docs-token}", "A"),
      malformed(7, "${ secret:docs-token }", "B"),
      malformed(8, "${Secret :docs-token}", "C"),
    ]);
  });

  test("a literal credential in env or headers is refused, by the last word of its name, without quoting it", () => {
    const problems = problemsOf(`connectors:
  - name: gh
    kind: stdio
    command: npx
    env:
      GITHUB_TOKEN: ghp_literalvalue12345
      DB_PASSWORD: "correct horse"
      apiKey: "\${secret:docs-token}-and-more"
      PRIVATE_KEY: "-----BEGIN KEY-----"
  - name: docs
    kind: http
    url: https://mcp.example.com/mcp
    headers:
      Authorization: "Bearer sk-live-abc123def456"
      Proxy-Authorization: "basic dXNlcjpwYXNzd29yZA=="
      Cookie: "session=abc123def456"
      X-Api-Key: "Bearer \${secret:docs-token} extra123"
`);
    const refused = (line: number, what: string, connector: string, reference: string) =>
      `mintgate.yaml:${line}: ${what} of connector "${connector}" holds a literal credential; store it with \`mintgate secrets set NAME\` and write "${reference}" instead`;
    expect(problems).toEqual([
      refused(6, 'env "GITHUB_TOKEN"', "gh", "${secret:NAME}"),
      refused(7, 'env "DB_PASSWORD"', "gh", "${secret:NAME}"),
      refused(8, 'env "apiKey"', "gh", "${secret:NAME}"),
      refused(9, 'env "PRIVATE_KEY"', "gh", "${secret:NAME}"),
      refused(14, 'header "Authorization"', "docs", "Bearer ${secret:NAME}"),
      refused(15, 'header "Proxy-Authorization"', "docs", "basic ${secret:NAME}"),
      refused(16, 'header "Cookie"', "docs", "${secret:NAME}"),
      refused(17, 'header "X-Api-Key"', "docs", "Bearer ${secret:NAME}"),
    ]);
    for (const value of ["ghp_literalvalue12345", "horse", "and-more", "BEGIN", "sk-live", "dXNlcjpw", "abc123def456", "extra123"]) {
      expect(problems.join("\n")).not.toContain(value);
    }
  });

  test("a credential word after an acronym (DBPassword, APIToken) names a credential as DB_PASSWORD does", () => {
    const problems = problemsOf(`connectors:
  - name: gh
    kind: stdio
    command: npx
    env:
      DBPassword: "correct horse"
      APIToken: tok_literalvalue12345
`);
    expect(problems).toEqual([
      'mintgate.yaml:6: env "DBPassword" of connector "gh" holds a literal credential; store it with `mintgate secrets set NAME` and write "${secret:NAME}" instead',
      'mintgate.yaml:7: env "APIToken" of connector "gh" holds a literal credential; store it with `mintgate secrets set NAME` and write "${secret:NAME}" instead',
    ]);
  });

  test("references with or without an auth scheme, settings named like credentials and short values are not literal credentials", () => {
    const config = parseConfigFile(
      `connectors:
  - name: gh
    kind: stdio
    command: npx
    env:
      GITHUB_TOKEN: "\${secret:docs-token}"
      ACCESS_TOKEN: "token \${secret:docs-token}"
      BASIC_AUTHORIZATION: "\${secret:docs-token}:\${secret:everything-key}"
      TOKEN_FILE: /run/secrets/github-token
      GITHUB_TOKEN_URL: https://github.example.com/login/oauth/access_token
      KEY_ID: key-2024-rotation-a
      AUTH_MODE: client-credentials
      USE_API_KEY: "true"
      CACHE_KEY: "1"
  - name: docs
    kind: http
    url: https://mcp.example.com/mcp
    headers:
      Authorization: "Bearer \${secret:docs-token}"
      X-Bot-Token: "Bot \${secret:docs-token}"
      Cookie: "lang=en"
`,
      { knownSecrets: SECRETS },
    );
    expect(config.connectors.map((c) => c.name)).toEqual(["gh", "docs"]);
  });

  test("a secret reference in a pinned or allowed value is refused: it would be sent and compared as written", () => {
    const problems = problemsOf(`connectors:
  - { name: demo, kind: builtin, server: demo }
virtualMcps:
  - slug: s
    name: S
    connectors: [{ connector: demo }]
    tools:
      demo__echo:
        arguments:
          text: { pin: "\${secret:docs-token}" }
          other: { allowed: [a, { key: "Bearer \${secret:docs-token}" }] }
`);
    const rule = (argument: string) => `of argument "${argument}" of tool "demo__echo" in virtual MCP "s" contains a secret reference, but secrets are resolved only in connectors' "env" and "headers" values; a policy value is sent and compared as written`;
    expect(problems).toEqual([`mintgate.yaml:10: "pin" ${rule("text")}`, `mintgate.yaml:11: "allowed" ${rule("other")}`]);
  });

  test("YAML 1.1 spellings and unquoted numbers where text or a choice is expected say what to write", () => {
    const problems = problemsOf(`connectors:
  - { name: demo, kind: builtin, server: demo }
virtualMcps:
  - slug: s
    name: S
    newTools: true
    connectors: [{ connector: demo, prefix: "" }]
    access: { everyone: yes }
    tools:
      123: { deny: { users: [a@example.com] } }
      add: { arguments: { a: { required: on } } }
`);
    expect(problems).toEqual([
      'mintgate.yaml:6: "newTools" of virtual MCP "s" is true; expected auto or approve',
      'mintgate.yaml:8: "everyone" in "access" of virtual MCP "s" must be true or false, not "yes" (text in YAML 1.2)',
      'mintgate.yaml:10: every name in "tools" of virtual MCP "s" must be a non-empty string; quote it: "123"',
      'mintgate.yaml:11: "required" of argument "a" of tool "add" in virtual MCP "s" must be true or false, not "on" (text in YAML 1.2)',
    ]);
  });

  test("virtual MCP slugs match VIRTUAL_MCP_SLUG and are unique; name required; newTools auto|approve", () => {
    expect(
      problemsOf(`virtualMcps:
  - slug: Sales
    name: Sales
  - slug: ok
    name: OK
  - slug: ok
    name: Again
  - slug: nameless
  - slug: strict
    name: Strict
    newTools: ask
`),
    ).toEqual([
      'mintgate.yaml:2: virtual MCP slug "Sales" must be 1 to 63 lowercase letters, digits or "-", starting with a letter or digit',
      'mintgate.yaml:6: virtual MCP slug "ok" is already used by the virtual MCP on line 4',
      'mintgate.yaml:8: virtual MCP "nameless" has no "name"',
      'mintgate.yaml:11: "newTools" of virtual MCP "strict" is "ask"; expected auto or approve',
    ]);
  });

  test("attachments name a defined connector, once per virtual MCP", () => {
    expect(
      problemsOf(
        withConnector(`virtualMcps:
  - slug: x
    name: X
    connectors:
      - connector: a
      - connector: ghost
      - connector: a
        prefix: again
      - prefix: p
      - connector: A
`),
      ),
    ).toEqual([
      'mintgate.yaml:8: virtual MCP "x" attaches connector "ghost", which is not defined under "connectors"',
      'mintgate.yaml:9: connector "a" is attached twice to virtual MCP "x" (first on line 7); merge the two',
      'mintgate.yaml:11: attachment #4 of virtual MCP "x" has no "connector"',
      'mintgate.yaml:12: virtual MCP "x" attaches connector "A", which is not defined under "connectors"; did you mean "a"?',
    ]);
  });

  test("include and exclude are not both given", () => {
    expect(
      problemsOf(
        withConnector(`virtualMcps:
  - slug: x
    name: X
    connectors:
      - connector: a
        include: [one]
        exclude: [two]
`),
      ),
    ).toEqual(['mintgate.yaml:9: connector "a" in virtual MCP "x" has both "include" and "exclude"; use one of them']);
  });

  test("prefixes: at most 32 of [a-zA-Z0-9_-], without __; the default prefix too", () => {
    expect(
      problemsOf(`connectors:
  - { name: a, kind: builtin, server: demo }
  - { name: b, kind: builtin, server: demo }
  - { name: my__demo, kind: builtin, server: demo }
virtualMcps:
  - slug: x
    name: X
    connectors:
      - connector: a
        prefix: "a.b"
      - connector: b
        prefix: x__y
      - connector: my__demo
`),
    ).toEqual([
      'mintgate.yaml:10: the prefix "a.b" of connector "a" in virtual MCP "x" must be at most 32 letters, digits, "_" or "-"',
      'mintgate.yaml:12: the prefix "x__y" of connector "b" in virtual MCP "x" must not contain "__", which separates the prefix from the tool name',
      'mintgate.yaml:13: connector name "my__demo" contains "__", so it cannot be the tool prefix in virtual MCP "x"; set "prefix" on this attachment',
    ]);
  });

  test("rename values and statically known exposed names match EXPOSED_NAME", () => {
    const long = "t".repeat(60);
    expect(
      problemsOf(
        withConnector(`virtualMcps:
  - slug: x
    name: X
    connectors:
      - connector: a
        prefix: abcdef
        include: [ok, get.sum, ${long}, renamed]
        rename: { renamed: "bad name" }
`),
      ),
    ).toEqual([
      'mintgate.yaml:9: tool "get.sum" of connector "a" in virtual MCP "x" would be exposed as "abcdef__get.sum", which is not 1 to 64 letters, digits, "_" or "-"; rename it or shorten the prefix',
      `mintgate.yaml:9: tool "${long}" of connector "a" in virtual MCP "x" would be exposed as "abcdef__${long}", which is not 1 to 64 letters, digits, "_" or "-"; rename it or shorten the prefix`,
      'mintgate.yaml:10: the new name "bad name" for tool "renamed" in connector "a" in virtual MCP "x" must be 1 to 64 letters, digits, "_" or "-"',
    ]);
  });

  test("rename and describe entries that can never apply are reported", () => {
    expect(
      problemsOf(`connectors:
  - { name: a, kind: builtin, server: demo }
  - { name: b, kind: builtin, server: demo }
virtualMcps:
  - slug: x
    name: X
    connectors:
      - connector: a
        include: [echo]
        describe: { ecko: "typo" }
      - connector: b
        exclude: [drop]
        rename: { drop: kept }
`),
    ).toEqual([
      'mintgate.yaml:10: "describe" of tool "ecko" has no effect: connector "a" in virtual MCP "x" does not include it',
      'mintgate.yaml:13: "rename" of tool "drop" has no effect: connector "b" in virtual MCP "x" excludes it',
    ]);
  });

  test("two statically known exposed names colliding in one virtual MCP name both sources", () => {
    expect(
      problemsOf(
        `connectors:
  - { name: everything, kind: stdio, command: npx }
  - { name: docs, kind: http, url: "https://docs.example/mcp" }
virtualMcps:
  - slug: sales
    name: Sales
    connectors:
      - connector: everything
        prefix: ev
        include: [echo, get-sum]
        rename: { get-sum: sum }
      - connector: docs
        prefix: ev
        include: [sum]
  - slug: other
    name: Other
    connectors:
      - connector: everything
        prefix: ""
        rename: { a: same, b: same }
      - connector: docs
        prefix: ev
        include: [sum]
`,
      ),
    ).toEqual([
      'mintgate.yaml:14: "ev__sum" is exposed twice in virtual MCP "sales": by everything tool "get-sum" (renamed) and by docs tool "sum"',
      'mintgate.yaml:20: "same" is exposed twice in virtual MCP "other": by everything tool "a" (renamed) and by everything tool "b" (renamed)',
    ]);
  });

  test("YAML syntax errors are reported with their line", () => {
    expect(problemsOf("connectors:\n  - name: a\n    kind: stdio: x\n")).toEqual([
      "mintgate.yaml:3: YAML syntax: Nested mappings are not allowed in compact mappings",
    ]);
    expect(problemsOf("connectors: []\n\tvirtualMcps: []\n")[0]).toStartWith("mintgate.yaml:2: YAML syntax: ");
    // The yaml library only warns about these, and would read `!custom builtin` as "builtin" and skip the directive.
    expect(problemsOf("connectors:\n  - name: demo\n    kind: !custom builtin\n    server: !!foo demo\n")).toEqual([
      "mintgate.yaml:3: unknown YAML tag !custom; remove it (quote the value to make it text)",
      "mintgate.yaml:4: unknown YAML tag !!foo; remove it (quote the value to make it text)",
    ]);
    expect(problemsOf("%YAML 1.3\n---\nconnectors: []\n")).toEqual([
      "mintgate.yaml:1: Unsupported YAML version 1.3; remove that line (a file may start with %YAML 1.2, %YAML 1.1 or %TAG)",
    ]);
    expect(() => parsePolicyText("access: !x { everyone: true }\n", { fileName: "request" })).toThrow("request:1: unknown YAML tag !x; remove it");
    expect(problemsOf("connectors: []\n---\nvirtualMcps: []\n")).toEqual([
      'mintgate.yaml:2: the file must hold one YAML document; remove the extra "---"',
    ]);
    // The admin API's bodies (one Virtual MCP, one policy) say the same, not the yaml library's API advice.
    const twoDocuments = 'request:3: the file must hold one YAML document; remove the extra "---"';
    expect(() => parseVirtualMcpText("slug: a\nname: A\n---\n", { knownSecrets: SECRETS, knownConnectors: [] })).toThrow(twoDocuments);
    expect(() => parsePolicyText("access: { everyone: true }\nprompts: {}\n---\n", { fileName: "request" })).toThrow(twoDocuments);
    expect(() => parsePolicyText("access: {\n", { fileName: "request" })).toThrow(/^request:2: YAML syntax: [^\n]*[^:]$/);
  });

  test("an alias with no anchor before it is refused with its line, not read as an empty value (a connector without its env)", () => {
    const aliasWithoutAnchor = (line: number, name: string) => `mintgate.yaml:${line}: the alias *${name} has no anchor &${name} before it; define the anchor first, or quote the value if it is text`;
    expect(problemsOf("connectors:\n  - name: a\n    kind: stdio\n    command: a\n    env: *common\n")).toEqual([aliasWithoutAnchor(5, "common")]);
    expect(problemsOf("connectors: *all\n")).toEqual([aliasWithoutAnchor(1, "all")]);
    // An anchor after its alias does not count, as the yaml library reads it.
    expect(problemsOf(withConnector("virtualMcps:\n  - slug: s\n    name: S\n    description: *text\n  - slug: t\n    name: &text T\n"))).toEqual([aliasWithoutAnchor(6, "text")]);
    expect(() => parsePolicyText("access: { users: [*who] }\n", { fileName: "request" })).toThrow("request:1: the alias *who has no anchor &who before it;");
    expect(() => parseVirtualMcpText("slug: a\nname: *n\n", { knownSecrets: SECRETS, knownConnectors: [] })).toThrow("request:2: the alias *n has no anchor &n before it;");
  });

  test("a file that is not UTF-8 is refused with its line; a UTF-8 BOM is dropped", () => {
    const refusal = (bytes: Uint8Array) => {
      try {
        decodeConfigFile(bytes, "m.yaml");
      } catch (error) {
        return (error as MintgateError).message;
      }
      return "decoded";
    };
    expect(refusal(Buffer.from("virtualMcps:\n  - slug: s\n    name: Caf\xe9\n", "latin1"))).toBe(
      "m.yaml:3: the line is not UTF-8 text (the file may be Latin-1 or Windows-1252); save the file as UTF-8",
    );
    expect(refusal(Buffer.from("\ufeffconnectors: []\n", "utf16le"))).toBe("m.yaml:1: the file is UTF-16 text; save it as UTF-8");
    expect(decodeConfigFile(Buffer.from("\ufeffname: Café ✅\r\n"), "m.yaml")).toBe("name: Café ✅\r\n");
  });

  test("UTF-16 text without a byte order mark is refused as UTF-16, not read as a file that is no mapping", () => {
    const utf16be = (text: string) => Buffer.from(text, "utf16le").swap16();
    for (const bytes of [Buffer.from("connectors: []\n", "utf16le"), utf16be("connectors: []\n"), Buffer.from("é: x\n", "utf16le")]) {
      expect(() => decodeConfigFile(bytes, "m.yaml")).toThrow("m.yaml:1: the file is UTF-16 text; save it as UTF-8");
    }
  });

  test("the file name given is used in every line", () => {
    try {
      parseConfigFile("bogus: 1\n", { knownSecrets: new Set(), fileName: "prod.yaml" });
      throw new Error("expected a rejection");
    } catch (error) {
      expect((error as Error).message).toStartWith("prod.yaml:1: ");
    }
  });
});

describe("parseConfigFile: the whole file is checked", () => {
  test("every problem is reported, one per line, in file order", () => {
    const problems = problemsOf(`connectors:
  - name: everything
    kind: stdio
    comand: npx
    env: { KEY: "\${secret:nope}" }
  - name: docs
    kind: htp
    url: https://docs.example/mcp
virtualMcps:
  - slug: Bad_Slug
    name: Bad
    connectors:
      - connector: missing
        include: [a]
        exclude: [b]
`);
    expect(problems).toEqual([
      'mintgate.yaml:2: stdio connector "everything" has no "command"',
      'mintgate.yaml:4: unknown key "comand" in connector "everything"; did you mean "command"?',
      'mintgate.yaml:5: unknown secret "nope" referenced by connector "everything"; set it with `mintgate secrets set nope`',
      'mintgate.yaml:7: connector "docs" has kind "htp"; expected stdio, http, sse or builtin',
      'mintgate.yaml:10: virtual MCP slug "Bad_Slug" must be 1 to 63 lowercase letters, digits or "-", starting with a letter or digit',
      'mintgate.yaml:13: virtual MCP "Bad_Slug" attaches connector "missing", which is not defined under "connectors"',
      'mintgate.yaml:15: connector "missing" in virtual MCP "Bad_Slug" has both "include" and "exclude"; use one of them',
    ]);
  });

  test("an attachment to a connector that has its own problems is not also reported as undefined", () => {
    const problems = problemsOf(`connectors:
  - name: broken
    kind: stdio
virtualMcps:
  - slug: x
    name: X
    connectors: [{ connector: broken }]
`);
    expect(problems).toEqual(['mintgate.yaml:2: stdio connector "broken" has no "command"']);
  });
});

describe("serializeConfigFile", () => {
  test("round trip of the documented example", () => {
    const text = serializeConfigFile(EXAMPLE_CONFIG);
    expect(parseConfigFile(text, { knownSecrets: SECRETS })).toEqual(EXAMPLE_CONFIG);
  });

  test("writes the file's own format, leaving out defaults", () => {
    const text = serializeConfigFile(parseConfigFile(EXAMPLE, { knownSecrets: SECRETS }));
    expect(text).toBe(`connectors:
  - name: everything
    kind: stdio
    command: npx
    args: [-y, "@modelcontextprotocol/server-everything"]
    cwd: /srv
    env:
      API_KEY: \${secret:everything-key}
  - name: docs
    kind: http
    url: https://mcp.example.com/mcp
    headers:
      Authorization: Bearer \${secret:docs-token}
  - name: demo
    kind: builtin
    server: demo

virtualMcps:
  - slug: sales
    name: Sales Intelligence
    description: ...
    newTools: approve
    connectors:
      - connector: everything
        prefix: ev
        include: [echo, get-sum]
        rename:
          get-sum: sum
        describe:
          echo: Repeat the text back
`);
  });

  test("an empty config lists both sections empty and parses back, with --prune too (it empties the gateway on purpose)", () => {
    const empty: GatewayConfig = { connectors: [], virtualMcps: [] };
    expect(serializeConfigFile(empty)).toBe("connectors: []\nvirtualMcps: []\n");
    for (const prune of [false, true]) expect(parseConfigFile(serializeConfigFile(empty), { knownSecrets: new Set(), prune })).toEqual(empty);
  });

  test("a config with connectors but no virtual MCPs is written with virtualMcps: [] (left out, --prune would keep another gateway's)", () => {
    const config: GatewayConfig = { connectors: [{ name: "a", spec: { kind: "builtin", server: "demo" }, timeoutMs: 60_000 }], virtualMcps: [] };
    const text = serializeConfigFile(config);
    expect(text).toBe("connectors:\n  - name: a\n    kind: builtin\n    server: demo\n\nvirtualMcps: []\n");
    expect(parseConfigFileSections(text, { knownSecrets: new Set(), prune: true })).toEqual(config);
  });

  test("round trip of awkward values: YAML-lookalike strings, odd timeouts, empty prefix, multi-line text", () => {
    const config: GatewayConfig = {
      connectors: [
        {
          name: "tricky",
          spec: {
            kind: "stdio",
            command: "/usr/bin/env",
            args: ["8080", "yes", "null", "~", "#not-a-comment", " leading space", "a: b", "- dash", "{x}", "", "1e3"],
            env: Object.fromEntries([
              ["__proto__", "kept as data"],
              ["PORT", "8080"],
              ["EMPTY", ""],
              ["QUOTE", 'say "hi"'],
              ["TOKEN", "${secret:everything-key}"],
              // A plain `<<` key would be read back as a merge key and refused: it must be written quoted.
              ["<<", "a variable named <<"],
            ]),
          },
          timeoutMs: 1_500,
        },
        {
          name: "events",
          spec: { kind: "sse", url: "http://127.0.0.1:3001/sse", headers: { "X-Api-Key": "${secret:docs-token}" } },
          timeoutMs: 90_000,
        },
        { name: "demo", spec: { kind: "builtin", server: "demo" }, timeoutMs: 3_600_000 },
        {
          name: "long",
          spec: { kind: "stdio", command: "node", args: Array.from({ length: 20 }, (_, i) => `--option-${i}`), env: {} },
          timeoutMs: 120_000,
        },
      ],
      virtualMcps: [
        {
          slug: "a-1",
          name: "true",
          description: "Line one.\nLine two: with a colon.\n",
          newTools: "auto",
          connectors: [
            { connector: "tricky", prefix: "", exclude: ["rm"], rename: { "get.sum": "sum" }, describe: { "<<": "<<" } },
            { connector: "demo", prefix: "d", include: [], rename: {}, describe: {} },
            {
              connector: "events",
              prefix: "events",
              include: ["tail"],
              rename: {},
              describe: { tail: "Follows: the log\n- twice" },
            },
          ],
        },
        { slug: "empty", name: "Empty", description: "", newTools: "approve", connectors: [] },
      ],
    };
    const text = serializeConfigFile(config);
    const parsed = parseConfigFile(text, { knownSecrets: SECRETS });
    expect(parsed).toEqual(config);
    expect(Object.keys((parsed.connectors[0]?.spec as { env: Record<string, string> }).env)).toContain("__proto__");
    expect(serializeConfigFile(parsed)).toBe(text);
    expect(text).toContain('"<<": <<');
    expect(text).toContain("timeout: 1500ms");
    expect(text).toContain("timeout: 90s");
    expect(text).toContain("timeout: 60m");
    expect(text).toContain("timeout: 2m");
  });

  test("text of blanks and line feeds alone round-trips (as a block, the yaml library's spaces read back as its indentation)", () => {
    const blanks = ["   \n", " \n\n", "\n \t\n", "\t \n"];
    const config: GatewayConfig = {
      connectors: [{ name: "blank", spec: { kind: "stdio", command: "node", args: blanks, env: { PAD: " \n " } }, timeoutMs: 60_000 }],
      virtualMcps: blanks.map((description, i) => ({
        slug: `blank-${i}`,
        name: "Blank",
        description,
        newTools: "auto" as const,
        connectors: [{ connector: "blank", prefix: "blank", rename: {}, describe: { tool: description } }],
      })),
    };
    const text = serializeConfigFile(config);
    expect(parseConfigFile(text, { knownSecrets: SECRETS })).toEqual(config);
  });
});

describe("parseConfigFileSections: what --prune compares", () => {
  const demo: ConnectorDefinition = { name: "demo", spec: { kind: "builtin", server: "demo" }, timeoutMs: 60_000 };
  const stored: GatewayConfig = { connectors: [demo], virtualMcps: [] };
  const problem = (text: string, options: { prune?: boolean; stored?: GatewayConfig } = {}) => {
    try {
      parseConfigFileSections(text, { knownSecrets: new Set(), ...options });
      return "parsed";
    } catch (error) {
      return (error as MintgateError).message;
    }
  };

  test("a section the file leaves out is undefined; one present, even empty, is a list", () => {
    const connectors = "connectors:\n  - { name: demo, kind: builtin, server: demo }\n";
    expect(parseConfigFileSections(connectors, { knownSecrets: new Set(), prune: true })).toEqual({ connectors: [demo] });
    expect(parseConfigFileSections("virtualMcps: []\n", { knownSecrets: new Set(), prune: true })).toEqual({ virtualMcps: [] });
    // The whole-config reader still reads a section left out as empty.
    expect(parseConfigFile(connectors, { knownSecrets: new Set() })).toEqual({ connectors: [demo], virtualMcps: [] });
  });

  test("without a connectors section, Virtual MCPs attach the stored connectors; with one, only the file's", () => {
    const vmcps = "virtualMcps:\n  - { slug: v, name: V, connectors: [{ connector: demo }] }\n";
    expect(parseConfigFileSections(vmcps, { knownSecrets: new Set(), stored, prune: true }).virtualMcps?.[0]?.connectors[0]?.connector).toBe("demo");
    expect(problem(vmcps)).toBe('mintgate.yaml:2: virtual MCP "v" attaches connector "demo", which the gateway does not have (this file has no "connectors" section to define it in)');
    expect(problem(`connectors: []\n${vmcps}`, { stored })).toBe('mintgate.yaml:3: virtual MCP "v" attaches connector "demo", which is not defined under "connectors"');
  });

  test("with pruning, a section key with no value (a file cut short) and a file with no section are refused; without, a section with no value changes nothing", () => {
    const cut = "connectors:\n  - { name: demo, kind: builtin, server: demo }\nvirtualMcps:\n";
    expect(problem(cut, { prune: true })).toBe('mintgate.yaml:3: "virtualMcps" has no value, and pruning would delete every virtual MCP; write "virtualMcps: []" to do that, or leave the key out to keep them');
    expect(problem("connectors:\n", { prune: true })).toStartWith('mintgate.yaml:1: "connectors" has no value, and pruning would delete every connector;');
    expect(problem("{}", { prune: true })).toStartWith("mintgate.yaml:1: the file lists neither connectors nor virtualMcps, so there is nothing to prune by");
    expect(problem(cut)).toBe("parsed");
  });
});

describe("secret references", () => {
  test("secretReferencesIn lists each well-formed reference once, in order", () => {
    expect(secretReferencesIn("Bearer ${secret:docs-token}")).toEqual(["docs-token"]);
    expect(secretReferencesIn("${secret:b}:${secret:a.1}:${secret:b}")).toEqual(["b", "a.1"]);
    expect(secretReferencesIn("${secret:9x} ${secret:} $secret:x {secret:y} plain")).toEqual([]);
    expect(secretReferencesIn(`\${secret:${"x".repeat(128)}}`)).toEqual(["x".repeat(128)]);
    expect(secretReferencesIn(`\${secret:${"x".repeat(129)}}`)).toEqual([]);
  });

  test("SECRET_REFERENCE resolves every reference with replace", () => {
    const values: Record<string, string> = { user: "u", pass: "p" };
    expect("${secret:user}:${secret:pass}@${secret:user}".replace(SECRET_REFERENCE, (_, name: string) => values[name] ?? ""))
      .toBe("u:p@u");
  });
});
