/**
 * The few pages a person sees while an AI client signs them in: choose how to
 * sign in, approve the client, or read why it failed. Server-rendered, no
 * JavaScript, no external assets, a strict CSP and no framing (the server adds
 * nosniff and no-referrer to every reply: src/http/response-headers.ts).
 */

import { LOOPBACK_HOSTS } from "../clients/index.ts";

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}
main{max-width:30rem;margin:3rem auto;padding:2rem;background:#fff;border:1px solid #d0d7de;border-radius:8px}
h1{font-size:1.4rem;margin:0 0 1rem}
p,dl{margin:.6rem 0}dt{font-weight:600}dd{margin:0 0 .5rem}
label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font:inherit;border:1px solid #8c959f;border-radius:4px}
button,a.button{display:inline-block;margin:.8rem .5rem 0 0;padding:.5rem 1rem;font:inherit;border-radius:4px;border:1px solid #1f6feb;background:#1f6feb;color:#fff;text-decoration:none;cursor:pointer}
button.secondary{background:#fff;color:#1b1f24;border-color:#8c959f}
.warning{padding:.6rem;border-left:4px solid #bf8700;background:#fff8c5}
.error{padding:.6rem;border-left:4px solid #cf222e;background:#ffebe9}
ul.providers{list-style:none;padding:0}
fieldset{border:0;margin:.6rem 0;padding:0}legend{font-weight:600;padding:0}
label.choice{font-weight:400;margin:.4rem 0}
:focus{outline:3px solid #0969da;outline-offset:2px}
`;
const STYLE_HASH = new Bun.CryptoHasher("sha256").update(STYLE).digest("base64");

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/** The CSP source that lets a form's redirect reach `url` (Chrome applies form-action to redirects). */
function formTargetSource(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.origin : parsed.protocol;
  } catch {
    return undefined;
  }
}

interface PageOptions {
  status?: number;
  /** Where a form on the page may end up after redirects, besides this origin. */
  formTargets?: string[];
  headers?: Record<string, string>;
}

function page(title: string, body: string, options: PageOptions = {}): Response {
  const targets = ["'self'", ...(options.formTargets ?? []).map(formTargetSource).filter((s): s is string => s !== undefined)];
  const csp = [
    "default-src 'none'",
    `style-src 'sha256-${STYLE_HASH}'`,
    "img-src 'self'",
    `form-action ${targets.join(" ")}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)} · mintgate</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
  return new Response(html, {
    status: options.status ?? 200,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": csp,
      "x-frame-options": "DENY",
      "cache-control": "no-store",
      ...options.headers,
    },
  });
}

export interface SignInPageData {
  flow: string;
  clientName: string;
  /** Undefined when the client named none: the person's access or choice settles it after sign-in. */
  virtualMcpName: string | undefined;
  providers: { name: string; label: string }[];
  /** Where the browser ends up if the person already approved the client. */
  redirectUri: string;
  error?: string | undefined;
  email?: string | undefined;
  status?: number;
  headers?: Record<string, string>;
}

export function signInPage(data: SignInPageData): Response {
  const providers = data.providers.length
    ? `<p>Sign in with your organisation's account:</p><ul class="providers">${data.providers
        .map((p) => `<li><a class="button" href="/sso/start/${encodeURIComponent(p.name)}?flow=${encodeURIComponent(data.flow)}">${escapeHtml(p.label)}</a></li>`)
        .join("")}</ul><p>Or with a local account:</p>`
    : "";
  const body = `<h1>Sign in to mintgate</h1>
<p><strong>${escapeHtml(data.clientName)}</strong> wants to use ${
    data.virtualMcpName === undefined ? "a virtual MCP of this gateway for you; which one is settled after you sign in." : `the virtual MCP <strong>${escapeHtml(data.virtualMcpName)}</strong> for you.`
  }</p>
${data.error ? `<p class="error" role="alert">${escapeHtml(data.error)}</p>` : ""}
${providers}
<form method="post" action="/login">
<input type="hidden" name="flow" value="${escapeHtml(data.flow)}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required value="${escapeHtml(data.email ?? "")}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`;
  return page("Sign in", body, { status: data.status ?? (data.error ? 401 : 200), formTargets: [data.redirectUri], headers: data.headers });
}

export interface ConsentPageData {
  flow: string;
  csrf: string;
  email: string;
  clientName: string;
  clientId: string;
  /** How the client came to be known: it registered itself (dcr), its client_id is its metadata document's URL (cimd), or an admin added it. */
  clientKind: "cimd" | "dcr" | "static";
  redirectUri: string;
  /** The Virtual MCP being approved, or (several) those the person may choose from; posted as `virtual_mcp`. */
  virtualMcps: { slug: string; name: string; resource: string }[];
  /** Whether the client gets a refresh token, so stays signed in until the approval or sign-in is revoked. */
  staysSignedIn: boolean;
}

/** Where the client's redirect goes, as a person should read it. */
function redirectTarget(redirectUri: string): { host: string; loopback: boolean } {
  const url = new URL(redirectUri);
  if (url.protocol !== "http:" && url.protocol !== "https:") return { host: `${url.protocol}//${url.host}`, loopback: false };
  return { host: url.host, loopback: LOOPBACK_HOSTS.has(url.hostname) };
}

/** One Virtual MCP is shown and sent along; several are a required choice (the server checks it against the person's access). */
function virtualMcpChoice(virtualMcps: ConsentPageData["virtualMcps"]): { shown: string; field: string } {
  const describe = (v: ConsentPageData["virtualMcps"][number]) => `${escapeHtml(v.name)}<br><small>${escapeHtml(v.resource)}</small>`;
  if (virtualMcps.length === 1) {
    const only = virtualMcps[0]!;
    return { shown: `<dt>Virtual MCP</dt><dd>${describe(only)}</dd>`, field: `<input type="hidden" name="virtual_mcp" value="${escapeHtml(only.slug)}">` };
  }
  const options = virtualMcps.map((v) => `<label class="choice"><input type="radio" name="virtual_mcp" value="${escapeHtml(v.slug)}" required> ${describe(v)}</label>`).join("\n");
  return { shown: "", field: `<fieldset><legend>Which virtual MCP may it use?</legend>\n<p><small>The application did not say; you choose each time it signs you in.</small></p>\n${options}\n</fieldset>` };
}

/**
 * Who chose the application's name: anyone can register an application called "Claude" that sends the approval to
 * their own site, so a name nobody checked says so, and the address it sends people back to is what to trust.
 */
const NAME_ORIGIN: Record<ConsentPageData["clientKind"], string> = {
  dcr: "<br><small>It registered itself under this name, which nobody has checked: trust the address below, not the name.</small>",
  cimd: "<br><small>Its name comes from the document at the address above, which nobody here has checked.</small>",
  static: "<br><small>Added by an admin of this gateway.</small>",
};

/**
 * This browser stays signed in for hours and takes the next person who connects a client straight back to it as
 * whoever signed in: said where a person finishes with mintgate.
 */
const SHARED_COMPUTER = `<p><small>On a shared computer, <a href="/signout">sign out of mintgate</a> when you are done.</small></p>`;

export function consentPage(data: ConsentPageData): Response {
  const target = redirectTarget(data.redirectUri);
  const choice = virtualMcpChoice(data.virtualMcps);
  const body = `<h1>Allow ${escapeHtml(data.clientName)}?</h1>
<p>Signed in as <strong>${escapeHtml(data.email)}</strong>.</p>
<form method="post" action="/signout">
<input type="hidden" name="flow" value="${escapeHtml(data.flow)}">
<input type="hidden" name="csrf" value="${escapeHtml(data.csrf)}">
<button type="submit" class="secondary">Not you? Sign in as someone else</button>
</form>
<dl>
<dt>Application</dt><dd>${escapeHtml(data.clientName)}<br><small>${escapeHtml(data.clientId)}</small>${NAME_ORIGIN[data.clientKind]}</dd>
<dt>Sends you back to</dt><dd>${escapeHtml(target.host)}</dd>
${choice.shown}
<dt>Access</dt><dd>Use the tools of ${data.virtualMcps.length === 1 ? "this virtual MCP" : "the virtual MCP you choose"} as you${data.staysSignedIn ? ", and stay signed in until you revoke it" : ""}.</dd>
</dl>
${target.loopback ? `<p class="warning" role="note">This application receives the approval on your own computer (${escapeHtml(target.host)}). Any program on this computer could claim to be "${escapeHtml(data.clientName)}": approve only if you just started the sign-in from it.</p>` : ""}
<form method="post" action="/consent">
<input type="hidden" name="flow" value="${escapeHtml(data.flow)}">
<input type="hidden" name="csrf" value="${escapeHtml(data.csrf)}">
${choice.field}
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary" formnovalidate>Deny</button>
</form>
<p><small>You approve once per application; an admin or you can revoke it later.</small></p>
${SHARED_COMPUTER}`;
  return page("Approve access", body, { formTargets: [data.redirectUri] });
}

export function errorPage(status: number, title: string, message: string): Response {
  return page(title, `<h1>${escapeHtml(title)}</h1><p class="error" role="alert">${escapeHtml(message)}</p><p>Close this window and start again from your AI application.</p>`, { status });
}

export function signedInPage(email: string): Response {
  return page("Signed in", `<h1>Signed in</h1><p>You are signed in as <strong>${escapeHtml(email)}</strong>. You can close this window.</p>\n${SHARED_COMPUTER}`);
}

/** Who is signed in to mintgate in this browser, and the button that ends it; or that nobody is. */
export function signOutPage(signedIn: { email: string; csrf: string } | undefined): Response {
  const body = signedIn
    ? `<h1>Sign out of mintgate</h1>
<p>Signed in as <strong>${escapeHtml(signedIn.email)}</strong> in this browser.</p>
<form method="post" action="/signout">
<input type="hidden" name="csrf" value="${escapeHtml(signedIn.csrf)}">
<button type="submit">Sign out</button>
</form>
<p><small>AI applications you approved stay connected until you or an admin revokes them.</small></p>`
    : `<h1>Signed out</h1><p>Nobody is signed in to mintgate in this browser.</p>`;
  return page("Sign out", body);
}

/** After signing out; `headers` clear the browser session's cookie. */
export function signedOutPage(headers: Record<string, string>): Response {
  return page(
    "Signed out",
    `<h1>Signed out</h1><p>You are signed out of mintgate in this browser. AI applications you approved stay connected until you or an admin revokes them.</p>
<p><small>If you signed in with your organisation's account, you are still signed in there: sign out of it too on a shared computer.</small></p>`,
    { headers },
  );
}
