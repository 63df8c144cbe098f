/**
 * Canal's password scramble and the server's auth decision (canal-facts.md §1.4), after MySQL's
 * mysql_native_password "scramble411":
 *
 *   stored hash (canal.passwd) = hex(SHA1(SHA1(password)))                 scrambleGenPass
 *   client token               = SHA1(seed ‖ SHA1(SHA1(password))) XOR SHA1(password)
 *                                sent as 40 lowercase hex chars (UTF-8) in ClientAuth.password
 *   server check               = SHA1(token XOR SHA1(seed ‖ stored)) == stored
 *
 * The seed is the 8 random bytes of the HANDSHAKE.
 */
import { createHash } from "node:crypto";

function sha1(...parts: Uint8Array[]): Buffer {
  const hash = createHash("sha1");
  for (const part of parts) hash.update(part);
  return hash.digest();
}

function xor(a: Uint8Array, b: Uint8Array): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** 20 bytes from 40 hex chars of either case, or undefined if `hex` is anything else. */
function sha1FromHex(hex: string): Buffer | undefined {
  return /^[0-9a-fA-F]{40}$/.test(hex) ? Buffer.from(hex, "hex") : undefined;
}

/** The value for the server's canal.passwd: hex(SHA1(SHA1(password))), lowercase. */
export function scrambleGenPass(password: string): string {
  return sha1(sha1(Buffer.from(password, "utf8"))).toString("hex");
}

/** Client side: the 40-char lowercase hex token to send as ClientAuth.password. */
export function scramble411(password: string, seed: Uint8Array): string {
  const stage1 = sha1(Buffer.from(password, "utf8"));
  const stage2 = sha1(stage1);
  return xor(sha1(seed, stage2), stage1).toString("hex");
}

/**
 * Server side: whether `receivedHex` (the client's token) proves knowledge of the password whose
 * scrambleGenPass is `storedHexHash`. Malformed input of either kind is simply a failed check.
 */
export function verifyScramble(storedHexHash: string, seed: Uint8Array, receivedHex: string): boolean {
  const stored = sha1FromHex(storedHexHash);
  const token = sha1FromHex(receivedHex);
  if (stored === undefined || token === undefined) return false;
  const stage1 = xor(token, sha1(seed, stored));
  return sha1(stage1).equals(stored);
}

export interface ServerCredentials {
  /** canal.user; empty accepts any username. */
  serverUser: string;
  /** canal.passwd, the scrambleGenPass hash; empty accepts any password. */
  serverPasswdHash: string;
}

export interface ClientCredentials {
  username: string;
  /** ClientAuth.password as text: the client's hex token, or "" when it has no password. */
  password: string;
}

export type AuthResult = { ok: true } | { ok: false; message: string };

/**
 * The server's decision, in Canal's order. `seed` is undefined until the handshake write has
 * completed. On failure `message` is Canal's exact error text, sent in an Ack with code 400.
 */
export function checkAuth(server: ServerCredentials, client: ClientCredentials, seed: Uint8Array | undefined): AuthResult {
  if (seed === undefined) return { ok: false, message: "auth failed for seed is null" };
  const failed = { ok: false, message: `auth failed for user:${client.username}` } as const;
  if (server.serverUser !== "" && server.serverUser !== client.username) return failed;
  if (server.serverPasswdHash === "") return { ok: true };
  if (client.password === "") return failed;
  return verifyScramble(server.serverPasswdHash, seed, client.password) ? { ok: true } : failed;
}
