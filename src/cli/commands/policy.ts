import { EMPTY_CATALOGUE, type Catalogue } from "../../connectors/index.ts";
import { invalid, notFound } from "../../errors/index.ts";
import { approvalLookup, curate, decideEverySpelling, routeUri } from "../../gateway/index.ts";
import { canonicalEmail } from "../../email/index.ts";
import { decide, isEmailAddress, ruleFor, SubjectResolver, type Decision } from "../../policy/index.ts";
import { commandGroup, DATA_OPTION, JSON_OPTION, printJson, requireOptions, stringValue, type Command } from "../command.ts";
import { DATA_HELP, withDataDir } from "../data-dir.ts";

const explainCommand: Command = {
  name: "policy explain",
  summary: "Say whether a person may use a virtual MCP (and a tool, prompt or resource in it), and which rule decides.",
  usage: "mintgate policy explain --user EMAIL --vmcp SLUG [--tool NAME | --prompt NAME | --resource URI] [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION, user: { type: "string" }, vmcp: { type: "string" }, tool: { type: "string" }, prompt: { type: "string" }, resource: { type: "string" } },
  optionHelp: {
    "--user EMAIL": "the person, by email (their role and groups come from the data directory)",
    "--vmcp SLUG": "the virtual MCP",
    "--tool NAME": "also decide this tool (its exposed name; a note says when the virtual MCP exposes no such tool)",
    "--prompt NAME": "also decide this prompt",
    "--resource URI": "also decide this resource (its exposed URI)",
    ...DATA_HELP,
    "--json": "print the decisions as JSON",
  },
  details:
    "Decides exactly as the gateway does: first whether the person may reach the virtual MCP\n" +
    "(its access rule; without one, admins only), then the item's deny (wins) and allow rules\n" +
    "(a resource under every spelling of its URI the gateway checks). A tool waiting for approval is denied.\n" +
    "An email with no person record is decided as a member with no groups; a disabled person is denied\n" +
    "whatever the policy.",
  async run(parsed) {
    requireOptions(parsed, "policy explain", { user: "EMAIL", vmcp: "SLUG" });
    const email = canonicalEmail(stringValue(parsed, "user")!);
    const slug = stringValue(parsed, "vmcp")!;
    // Refused as `tokens create` refuses it: a typo (a name, a missing @) was answered as a member with no groups.
    if (!isEmailAddress(email)) throw invalid(`"${email}" is not an email address; policies decide for a person by email (--user EMAIL).`);
    const items = (["tool", "prompt", "resource"] as const).flatMap((kind) => {
      const name = stringValue(parsed, kind);
      return name === undefined ? [] : [{ kind, name }];
    });
    if (items.length > 1) throw invalid("Give at most one of --tool, --prompt and --resource.");
    const { subject, disabled, reach, item } = await withDataDir(parsed, (dir) => {
      const vmcp = dir.store.gatewayConfig.virtualMcps().find((v) => v.slug === slug);
      if (!vmcp) throw notFound(`There is no virtual MCP "${slug}"; \`mintgate export\` lists them.`);
      const policy = vmcp.policy ?? {};
      const subject = new SubjectResolver(dir.store).subjectOf({ subject: email });
      const reach = decide(subject, { kind: "reach", virtualMcp: slug, policy });
      const asked = items[0];
      const decideItem = (kind: "tool" | "prompt" | "resource", name: string) => decide(subject, { kind, virtualMcp: slug, policy, name });
      // A resource as the gateway decides it: also under the other spellings of its URI its upstream reads as the same.
      const item = asked && { ...asked, decision: asked.kind === "resource" ? decideEverySpelling(asked.name, routeUri(vmcp.connectors, asked.name), (uri) => decideItem("resource", uri)) : decideItem(asked.kind, asked.name) };
      // A name the virtual MCP does not expose has no rule, so it reads "allowed": a typo must not pass for an answer.
      const saved = dir.store.gatewayConfig.savedCatalogues();
      let exposed: boolean | undefined;
      let waitingForApproval = false;
      if ((asked?.kind === "tool" || asked?.kind === "prompt") && vmcp.connectors.every((a) => saved.has(a.connector))) {
        const catalogueOf = (name: string) => JSON.parse(saved.get(name) ?? "null") as Catalogue | null ?? EMPTY_CATALOGUE;
        const curated = curate(vmcp, catalogueOf, approvalLookup(dir.store, slug));
        exposed = (asked.kind === "tool" ? curated.toolsByName : curated.promptsByName).has(asked.name);
        // Held back by `newTools: approve`: no one may call it, whatever the policy says, until an admin approves it.
        waitingForApproval = !exposed && curated.pending.some((p) => p.exposedName === asked.name);
        exposed ||= waitingForApproval;
      }
      // A disabled person is refused before any policy is read: their tokens and sign-ins stop working.
      // A tool's argument rules decide its calls too; "no rule for tool" alone would hide them.
      const argumentRules = asked?.kind === "tool" ? ruleFor(policy.tools, asked.name)?.arguments : undefined;
      return { subject, disabled: dir.store.users.emailDisabled(email), reach, item: item && { ...item, exposed, waitingForApproval, argumentRules } };
    });
    const allowed = !disabled && reach.allow && (item?.decision.allow ?? true) && !item?.waitingForApproval;
    if (parsed.values.json) {
      if (disabled) printJson({ allow: false, disabled, subject, virtualMcp: { slug } });
      else printJson({ allow: allowed, subject, virtualMcp: { slug, ...reach }, ...(item ? { [item.kind]: { name: item.name, ...(item.exposed === undefined ? {} : { exposed: item.exposed }), ...(item.waitingForApproval ? { waitingForApproval: true } : {}), ...item.decision, ...(item.argumentRules ? { arguments: item.argumentRules } : {}) } } : {}) });
      return 0;
    }
    if (disabled) {
      process.stdout.write(`${subject.email} (disabled)\n  The gateway refuses a disabled person whatever the policy says; \`mintgate users enable ${subject.email}\` lets them back in.\nDecision: denied\n`);
      return 0;
    }
    const who = `${subject.email} (${subject.role ?? "no person record: a member"}; groups: ${subject.groups.join(", ") || "none"})`;
    const lines = [who, ...describe(`virtual MCP "${slug}"`, reach)];
    if (item) {
      lines.push(...describe(`${item.kind} "${item.name}"`, item.decision));
      if (item.argumentRules) lines.push(`  calls:  its arguments are checked by rules on ${Object.entries(item.argumentRules).map(([name, rule]) => `${JSON.stringify(name)}${rule.required ? " (required)" : ""}`).join(", ")} (tools[${JSON.stringify(item.name)}].arguments)`);
      if (item.exposed === false) lines.push(`  note:   virtual MCP "${slug}" exposes no ${item.kind} "${item.name}" (by its connectors' last known lists); check the name with \`mintgate export\` or the client's list.`);
      if (item.waitingForApproval) lines.push(`  note:   the tool waits for approval (it is new, or changed since it was approved), so no one may call it yet; \`mintgate approve ${slug} ${item.name}\` approves it.`);
      if (!reach.allow) lines.push(`  (but the ${item.kind} is out of reach: the virtual MCP is not allowed)`);
    }
    lines.push(`Decision: ${allowed ? "allowed" : "denied"}`);
    process.stdout.write(lines.join("\n") + "\n");
    return 0;
  },
};

function describe(what: string, decision: Decision): string[] {
  return [`${what}: ${decision.allow ? "allowed" : "denied"}`, `  rule:   ${decision.rule}`, ...(decision.allow ? [] : [`  reason: ${decision.reason}`])];
}

export const policySubcommands: Command[] = [explainCommand];
export const policyCommand = commandGroup("policy", "Explain access policy decisions (policies live in mintgate.yaml).", policySubcommands);
