import { suite } from "uvu";
import * as assert from "uvu/assert";
import { checkAuth, scramble411, scrambleGenPass, verifyScramble } from "../../src/protocol/scramble.js";
import { scramble, SEED_HEX } from "../fixtures/canal-vectors.js";
import { fromHex } from "./helpers.js";

const Scramble = suite("protocol/scramble");
const seed = fromHex(SEED_HEX);
const otherSeed = fromHex("0807060504030201");

Scramble("scrambleGenPass §1.4: canal.passwd for 'canal'", () => {
  assert.is(scrambleGenPass("canal"), scramble.canalPasswdHash);
});

Scramble("scramble411 §1.4: client tokens for 'canal' and '' with seed 01..08", () => {
  assert.is(scramble411("canal", seed), scramble.canalToken);
  assert.is(scramble411("", seed), scramble.emptyPasswordToken);
});

Scramble("verifyScramble §1.4: the server accepts the vector token, in either hex case", () => {
  assert.ok(verifyScramble(scramble.canalPasswdHash, seed, scramble.canalToken));
  assert.ok(verifyScramble(scramble.canalPasswdHash.toUpperCase(), seed, scramble.canalToken));
  assert.ok(verifyScramble(scramble.canalPasswdHash, seed, scramble.canalToken.toUpperCase()));
});

Scramble("verifyScramble rejects a wrong password, another seed, and malformed tokens", () => {
  assert.not.ok(verifyScramble(scramble.canalPasswdHash, seed, scramble.emptyPasswordToken));
  assert.not.ok(verifyScramble(scramble.canalPasswdHash, otherSeed, scramble.canalToken));
  assert.not.ok(verifyScramble(scramble.canalPasswdHash, seed, scramble.canalToken.slice(2)));
  assert.not.ok(verifyScramble(scramble.canalPasswdHash, seed, "zz" + scramble.canalToken.slice(2)));
  assert.not.ok(verifyScramble("not-a-hash", seed, scramble.canalToken));
  assert.ok(verifyScramble(scrambleGenPass("pässwörd"), otherSeed, scramble411("pässwörd", otherSeed)));
});

const configured = { serverUser: "canal", serverPasswdHash: scramble.canalPasswdHash };
const failedFor = (user: string) => ({ ok: false, message: `auth failed for user:${user}` });

Scramble("checkAuth: right user and token → ok", () => {
  assert.equal(checkAuth(configured, { username: "canal", password: scramble.canalToken }, seed), { ok: true });
});

Scramble("checkAuth: no seed yet → 'auth failed for seed is null', before anything else", () => {
  assert.equal(checkAuth(configured, { username: "canal", password: scramble.canalToken }, undefined), {
    ok: false,
    message: "auth failed for seed is null",
  });
});

Scramble("checkAuth: another username is rejected even with the right token", () => {
  assert.equal(checkAuth(configured, { username: "root", password: scramble.canalToken }, seed), failedFor("root"));
  assert.equal(checkAuth(configured, { username: "", password: scramble.canalToken }, seed), failedFor(""));
});

Scramble("checkAuth: configured password and an empty client password → rejected", () => {
  assert.equal(checkAuth(configured, { username: "canal", password: "" }, seed), failedFor("canal"));
});

Scramble("checkAuth: the scramble of '' is a real token and fails against a configured password", () => {
  assert.equal(checkAuth(configured, { username: "canal", password: scramble.emptyPasswordToken }, seed), failedFor("canal"));
});

Scramble("checkAuth: no server password → any password of the right (or any) user is accepted", () => {
  const noPasswd = { serverUser: "canal", serverPasswdHash: "" };
  assert.equal(checkAuth(noPasswd, { username: "canal", password: "garbage" }, seed), { ok: true });
  assert.equal(checkAuth(noPasswd, { username: "canal", password: "" }, seed), { ok: true });
  assert.equal(checkAuth(noPasswd, { username: "other", password: "" }, seed), failedFor("other"));
  const open = { serverUser: "", serverPasswdHash: "" };
  assert.equal(checkAuth(open, { username: "anyone", password: "" }, seed), { ok: true });
});

Scramble("checkAuth: no server user → any username, but the password is still checked", () => {
  const anyUser = { serverUser: "", serverPasswdHash: scramble.canalPasswdHash };
  assert.equal(checkAuth(anyUser, { username: "whoever", password: scramble.canalToken }, seed), { ok: true });
  assert.equal(checkAuth(anyUser, { username: "whoever", password: scramble.emptyPasswordToken }, seed), failedFor("whoever"));
});

Scramble.run();
