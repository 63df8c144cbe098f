/**
 * The live charts page in a real browser (issue 8): two cluster nodes on a real ZooKeeper and
 * MariaDB; headless Chromium (Debian's `chromium`, driven by puppeteer-core) opens the standby's
 * /charts, which highlights a standby state; kill -9 of the running node, and the same page,
 * never reloaded, highlights `active.serving` once the standby took over. A client that then
 * subscribes shows up with its session chart. Screenshots go to test-artifacts/.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import puppeteer, { type Page } from "puppeteer-core";
import { ZkSessionClient } from "../../src/actors/zk/session-client.js";
import { CanalConnector } from "../../src/client/connector.js";
import { startMariaDB, startZooKeeper } from "../../src/testkit/index.js";
import { newOwner, runningAddress, SESSION_TIMEOUT_MS, startNode } from "./cluster-kit.js";

const DESTINATION = "charts";
const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url).pathname;

/**
 * What the page highlights for the destination: the node (leaf) titles and the cluster
 * (compound) titles. In-page code goes as a string: tsx compiles functions with esbuild's
 * name helper (`__name`), which does not exist in the page.
 */
async function highlighted(page: Page, destination: string): Promise<{ nodes: string[]; clusters: string[]; text: string }> {
  return page.evaluate(`(() => {
    const section = document.querySelector('section[data-destination=${JSON.stringify(destination)}]');
    const titles = (selector) => [...(section ? section.querySelectorAll(selector) : [])].map((t) => t.textContent || "");
    return {
      nodes: titles(".chart g.node.current > title"),
      clusters: titles(".chart g.cluster.current > title"),
      text: section?.querySelector(".instance-state")?.textContent ?? "",
    };
  })()`) as Promise<{ nodes: string[]; clusters: string[]; text: string }>;
}

/** Polls the page until `check` holds, for at most `timeoutMs`; the last look says what it showed. */
async function waitForPage<T>(page: Page, look: () => Promise<T>, check: (seen: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let seen = await look();
  while (!check(seen)) {
    if (Date.now() > deadline) throw new Error(`the page did not get there within ${timeoutMs} ms; it shows ${JSON.stringify(seen)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    seen = await look();
  }
  return seen;
}

test("the standby's /charts page highlights standby, then active.serving after kill -9 of the running node, without reload", async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM}: expected Debian's chromium (apt-get install chromium), as .ci/run installs it`);
  await using zkServer = await startZooKeeper();
  await using db = await startMariaDB();
  const zk = await ZkSessionClient.connect({ connectString: zkServer.connectString, sessionTimeoutMs: 10_000 });
  const nodes = [await startNode("a", zkServer.connectString, db, DESTINATION), await startNode("b", zkServer.connectString, db, DESTINATION)];
  // Debian's chromium, not a downloaded one; --no-sandbox because CI runs as root in a container.
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--headless=new"] });
  let connector: CanalConnector | undefined;
  try {
    const first = await runningAddress(zk, DESTINATION);
    const owner = nodes.find((n) => n.address === first)!;
    const standby = nodes.find((n) => n.address !== first)!;
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1400 });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    await page.goto(`http://127.0.0.1:${standby.metricsPort}/charts`, { waitUntil: "load" });

    const before = await waitForPage(page, () => highlighted(page, DESTINATION), (h) => h.nodes.some((t) => t.startsWith("standby.")), 10_000);
    assert.ok(before.clusters.includes("cluster_standby"), `the enclosing standby state is highlighted too: ${JSON.stringify(before)}`);
    assert.is(before.nodes.length, 1, `one state highlighted: ${JSON.stringify(before)}`);
    assert.ok(before.text.startsWith("standby."), before.text);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "chart-page-standby.png"), fullPage: true });
    // A mark in the page: still there afterwards means the page changed live, not by a reload.
    await page.evaluate("window.mark = 42");

    owner.kill("SIGKILL");
    await owner.exited;
    const killedAt = Date.now();
    assert.is(await newOwner(zk, DESTINATION, first, 4 * SESSION_TIMEOUT_MS), standby.address);
    const after = await waitForPage(page, () => highlighted(page, DESTINATION), (h) => h.nodes.includes("active.serving"), 5000);
    assert.equal(after.nodes, ["active.serving"]);
    assert.ok(after.clusters.includes("cluster_active") && !after.clusters.includes("cluster_standby"), JSON.stringify(after));
    assert.is(await page.evaluate("window.mark"), 42, "the page was not reloaded");
    console.log(`  active.serving highlighted ${Date.now() - killedAt} ms after the killed node exited`);

    // A client of the new owner: its session appears with its own chart, subscribed.
    connector = new CanalConnector({ host: "127.0.0.1", port: standby.port, destination: DESTINATION, soTimeoutMs: 5000 });
    await connector.connect();
    await connector.subscribe("");
    const session = await waitForPage(
      page,
      () => page.evaluate(`[...document.querySelectorAll("[data-session] .chart")].map((c) => c.dataset.state || "")`) as Promise<string[]>,
      (states) => states.some((s) => s.includes("subscription.subscribed")),
      5000,
    );
    assert.is(session.length, 1, `one session: ${JSON.stringify(session)}`);
    const shot = join(ARTIFACTS, "chart-page-failover.png");
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`  screenshots: ${join(ARTIFACTS, "chart-page-standby.png")} ${shot}`);
    assert.equal(errors, [], "no script errors on the page");
  } finally {
    await connector?.disconnect().catch(() => undefined);
    await browser.close();
    await zk.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test.run();
