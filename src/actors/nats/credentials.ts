/**
 * NATS credentials written the way the NATS tools take them, in the server URLs:
 * `nats://user:password@host:4222` or `nats://token@host:4222`. The NATS client does not read
 * them from the URL, so every connection of canal-ts goes through `natsConnectOptions`, which
 * moves them into its options and leaves bare URLs. With credentials on a NATS server whose
 * authorization limits `canal.admin.>` to operators, the control plane is closed to others.
 */
import { CanalConfigError } from "../../errors.js";

export interface NatsCredentials {
  user?: string;
  pass?: string;
  token?: string;
}

/** The servers without credentials, and the credentials they carried (the same on every URL, or none). */
export function natsConnectOptions(servers: readonly string[]): { servers: string[] } & NatsCredentials {
  let found: NatsCredentials | undefined;
  let foundOn = "";
  const bare = servers.map((server) => {
    const url = new URL(server);
    if (url.username === "" && url.password === "") return server;
    const user = decodeURIComponent(url.username);
    const credentials: NatsCredentials = url.password === "" ? { token: user } : { user, pass: decodeURIComponent(url.password) };
    const shown = shownNatsServer(server);
    if (found !== undefined && JSON.stringify(found) !== JSON.stringify(credentials)) {
      throw new CanalConfigError(`NATS server ${shown} carries other credentials than ${foundOn}: expected the same user and password (or token) on every URL, or on none`);
    }
    found = credentials;
    foundOn = shown;
    url.username = "";
    url.password = "";
    return url.toString().replace(/\/$/, "");
  });
  return { servers: bare, ...found };
}

/** A server URL fit for logs and messages: its password or token masked. */
export function shownNatsServer(server: string): string {
  return server.replace(/^([a-z]+:\/\/)([^:@/]*)(:[^@/]*)?@/i, (_, scheme: string, user: string, password: string | undefined) =>
    password === undefined ? `${scheme}***@` : `${scheme}${user}:***@`,
  );
}
