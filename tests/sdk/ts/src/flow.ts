// The account flow a TypeScript client app runs, through types generated from docs/openapi.json
// (openapi-typescript) and the openapi-fetch runtime only: register → verify the e-mail with the key from the
// mail the server wrote → login → GET /me → refresh → request an export → poll until it is ready → download
// the ZIP through its link. Prints one JSON line per step; the last one is {"step": "done", ...}.
//
// Environment: CUSTODIAN_URL (the API's base URL, no trailing slash), CUSTODIAN_MAIL_DIR (where the server's
// file mail backend writes), EXPORT_ZIP (where to save the downloaded archive), CUSTODIAN_EMAIL (optional).

import { createHash } from "node:crypto";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import createClient from "openapi-fetch";

import type { components, paths } from "./custodian.js";

type Schemas = components["schemas"];
type ErrorOut = Schemas["ErrorOut"];

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const BASE_URL = env("CUSTODIAN_URL");
const MAIL_DIR = env("CUSTODIAN_MAIL_DIR");
const EXPORT_ZIP = env("EXPORT_ZIP");
const EMAIL = process.env["CUSTODIAN_EMAIL"] ?? "ada.ts@example.com";
const USERNAME = "ada_ts";
const PASSWORD = "correct-horse-battery-9";
const DOWNLOAD_PATH = /^\/api\/v1\/gdpr\/exports\/([^/]+)$/;

const anonymous = createClient<paths>({ baseUrl: BASE_URL });
const bearer = (access: string) =>
  createClient<paths>({ baseUrl: BASE_URL, headers: { Authorization: `Bearer ${access}` } });

function report(step: string, details: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ step, ...details }));
}

/** The body of a success answer with the expected status; anything else ends the flow with the error body. */
function expectData<T>(what: string, result: { data?: T; error?: unknown; response: Response }, status: number): T {
  if (result.response.status !== status || result.data === undefined) {
    throw new Error(`${what}: expected ${status}, got ${result.response.status} ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

/** The typed ErrorOut of an error answer with the expected status and code. */
function expectError(
  what: string,
  result: { data?: unknown; error?: ErrorOut; response: Response },
  status: number,
  code: ErrorOut["code"],
): ErrorOut {
  const error = result.error;
  if (result.response.status !== status || error === undefined || error.code !== code) {
    throw new Error(`${what}: expected ${status} ${code}, got ${result.response.status} ${JSON.stringify(error)}`);
  }
  return error;
}

/** The key of the newest verification mail to `to`, read from the mail files (waits for the mail to appear). */
async function verificationKey(to: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    let names: string[] = [];
    try {
      names = await readdir(MAIL_DIR);
    } catch {
      // The backend creates the folder with the first mail.
    }
    let key: string | undefined;
    for (const name of names.sort()) {
      // The file backend writes one or more messages per file, separated by a line of 79 dashes.
      for (const message of (await readFile(join(MAIL_DIR, name), "utf8")).split(/\n-{79}\n/)) {
        if (!message.includes(`To: ${to}`)) continue;
        const link = /https?:\/\/\S+\/verify-email\?\S+/.exec(message)?.[0];
        key = link ? (new URL(link).searchParams.get("key") ?? key) : key;
      }
    }
    if (key) return key;
    await sleep(200);
  }
  throw new Error(`no verification mail to ${to} in ${MAIL_DIR}`);
}

async function main(): Promise<void> {
  const registered = expectData(
    "register",
    await anonymous.POST("/api/v1/auth/register", {
      body: { email: EMAIL, password: PASSWORD, username: USERNAME },
    }),
    201,
  );
  if (registered.email !== EMAIL || registered.email_verified) throw new Error(`register: ${JSON.stringify(registered)}`);
  report("register", { id: registered.id, email_verified: registered.email_verified });

  const key = await verificationKey(EMAIL);
  const verified: Schemas["UserOut"] = expectData(
    "verify",
    await anonymous.POST("/api/v1/auth/email/verify", { body: { key } }),
    200,
  );
  report("verify", { email_verified: verified.email_verified });

  const refused = expectError(
    "login with a wrong password",
    await anonymous.POST("/api/v1/auth/token", { body: { login: USERNAME, password: "not-the-password-1" } }),
    401,
    "invalid_credentials",
  );
  report("login_refused", { code: refused.code });

  // A user without a second factor gets the pair (200); one with MFA would get 202 and an mfa_token.
  const loggedIn = expectData(
    "login",
    await anonymous.POST("/api/v1/auth/token", { body: { login: USERNAME, password: PASSWORD } }),
    200,
  );
  if (!("access" in loggedIn)) {
    throw new Error(`login: expected a token pair, got ${JSON.stringify(loggedIn)}`);
  }
  const pair: Schemas["TokenPairOut"] = loggedIn;
  report("login", { token_type: pair.token_type, expires_in: pair.expires_in, session_id: pair.session_id });

  const me = expectData("me", await bearer(pair.access).GET("/api/v1/me"), 200);
  report("me", { email: me.email, username: me.username, email_verified: me.email_verified });

  const rotated = expectData(
    "refresh",
    await anonymous.POST("/api/v1/auth/token/refresh", { body: { refresh: pair.refresh } }),
    200,
  );
  if (rotated.session_id !== pair.session_id || rotated.refresh === pair.refresh) {
    throw new Error("refresh: expected a new refresh token on the same session");
  }
  const api = bearer(rotated.access);
  expectData("me after refresh", await api.GET("/api/v1/me"), 200);
  report("refresh", { same_session: true });

  const created = expectData(
    "export request",
    await api.POST("/api/v1/gdpr/requests", { body: { type: "export" } }),
    202,
  );
  report("export_requested", { id: created.id, status: created.status });

  let request: Schemas["DataRequestOut"] = created;
  const deadline = Date.now() + 30_000;
  while (!(request.status === "ready" && request.download) && Date.now() < deadline) {
    if (request.status === "failed" || request.status === "cancelled") throw new Error(`export ${request.status}`);
    await sleep(250);
    request = expectData(
      "export status",
      await api.GET("/api/v1/gdpr/requests/{request_id}", { params: { path: { request_id: created.id } } }),
      200,
    );
  }
  const download = request.download;
  if (request.status !== "ready" || !download) throw new Error(`export not ready: ${JSON.stringify(request)}`);
  report("export_ready", { progress: request.progress, size: download.size, downloads_left: download.downloads_left });

  // The link is a URL whose path is the download operation's; its last segment is the token.
  const token = DOWNLOAD_PATH.exec(new URL(download.url).pathname)?.[1];
  if (!token) throw new Error(`download link does not point at the download operation: ${download.url}`);
  const fetched = await anonymous.GET("/api/v1/gdpr/exports/{token}", {
    params: { path: { token: decodeURIComponent(token) } },
    parseAs: "arrayBuffer",
  });
  const zip = Buffer.from(expectData("download", fetched, 200));
  const sha256 = createHash("sha256").update(zip).digest("hex");
  if (sha256 !== download.sha256 || zip.length !== download.size) {
    throw new Error(`download: ${zip.length} bytes, sha256 ${sha256}; the request said ${download.size}, ${download.sha256}`);
  }
  await writeFile(EXPORT_ZIP, zip);
  report("download", {
    content_type: fetched.response.headers.get("content-type"),
    cache_control: fetched.response.headers.get("cache-control"),
    size: zip.length,
    sha256,
  });

  report("done", { email: EMAIL });
}

main().catch((error: unknown) => {
  report("failed", { error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
