#!/usr/bin/env node
// Generates the static protobufjs modules (JS + .d.ts) from our .proto files into
// src/protocol/gen/. It runs before the build, the typecheck and the tests, and only when a
// .proto file is newer than its output, so it costs nothing on a warm tree.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const protoDir = join(root, "src/protocol/proto");
const genDir = join(root, "src/protocol/gen");
const bin = (name) => join(root, "node_modules/.bin", name);

export function generateProto() {
  mkdirSync(genDir, { recursive: true });
  for (const file of readdirSync(protoDir).filter((f) => f.endsWith(".proto"))) {
    const base = file.replace(/\.proto$/, "");
    const src = join(protoDir, file);
    const js = join(genDir, `${base}.js`);
    const dts = join(genDir, `${base}.d.ts`);
    if (existsSync(js) && existsSync(dts) && statSync(js).mtimeMs >= statSync(src).mtimeMs) continue;
    // Each module gets its own root name: two static modules sharing the default root clash.
    execFileSync(bin("pbjs"), ["-t", "static-module", "-w", "es6", "--es6", "-r", base, "--no-verify", "--no-delimited", "-o", js, src], { stdio: "inherit" });
    execFileSync(bin("pbts"), ["-o", dts, js], { stdio: "inherit" });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) generateProto();
