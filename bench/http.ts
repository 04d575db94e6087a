/**
 * 7. Throughput at saturation over loopback HTTP: autocannon (in this
 *    process) against one server at a time (in its own process, so each has a
 *    core), every request carrying one of 1,000 distinct ES256 tokens over ten
 *    tenants. An Effect RPC server without auth, the same server with one
 *    hand-written middleware (a map lookup of the header: the baseline of
 *    the in-memory budget), under Warden (buffered counting audit sink, and
 *    `AuditFile`), and express
 *    without auth and with express-oauth2-jwt-bearer as the Node ecosystem's
 *    reference. Servers are measured in turns, the order reversed each round,
 *    each after a warm-up long enough for its JIT and, under Warden, the
 *    first verification of every token. Then the four RPC servers run side by
 *    side and are loaded in turns, rotating: the ratios within each rotation
 *    (Warden and the hand-written middleware over no auth, AuditFile over the
 *    counting sink), so the machine's drift between turns cancels out.
 */
import autocannon from "autocannon"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { check, median, rotating, summarise } from "./lib/harness.js"
import type { Paired } from "./lib/harness.js"
import { fastSigner, generateKey, startJwks } from "./lib/identity.js"

export const names = {
  rpcPlain: "Effect RPC, no auth",
  rpcHand: "Effect RPC, hand-written middleware (one service from a map)",
  rpcWarden: "Effect RPC, Warden (buffered audit sink)",
  rpcWardenFile: "Effect RPC, Warden (AuditFile)",
  expressPlain: "express, no auth",
  expressJwt: "express + express-oauth2-jwt-bearer"
} as const

const kinds: ReadonlyArray<readonly [string, string]> = [
  ["rpc-plain", names.rpcPlain],
  ["rpc-hand", names.rpcHand],
  ["rpc-warden", names.rpcWarden],
  ["rpc-warden-file", names.rpcWardenFile],
  ["express-plain", names.expressPlain],
  ["express-jwt", names.expressJwt]
]

export interface Throughput {
  readonly name: string
  /** Requests per second, one figure per round. */
  readonly rounds: ReadonlyArray<number>
  readonly median: number
  readonly latencyP50: number
  readonly latencyP99: number
  readonly errors: number
}

/** Warden's throughput over the plain server's in alternating turns, the two servers up side by side. */
export interface PairedThroughput extends Paired {
  readonly seconds: number
}

export interface HttpResults {
  readonly tokens: number
  readonly tenants: number
  readonly connections: number
  readonly seconds: number
  readonly warmupSeconds: number
  readonly results: ReadonlyArray<Throughput>
  /** Warden (counting sink) over no auth, side by side. */
  readonly paired: PairedThroughput
  /** Warden with `AuditFile` over Warden with the counting sink, side by side. */
  readonly pairedFile: PairedThroughput
  /** The hand-written middleware over no auth, side by side: the reference for Warden's figure. */
  readonly pairedHand: PairedThroughput
}

const root = fileURLToPath(new URL("..", import.meta.url))

const start = (kind: string, jwksUrl: string, auditDir: string) =>
  new Promise<{ readonly url: string; readonly child: ChildProcess }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "bench/lib/httpServers.ts", kind, jwksUrl, auditDir],
      { cwd: root, stdio: ["ignore", "pipe", "inherit"] }
    )
    let out = ""
    const timer = setTimeout(() => reject(new Error(`the ${kind} server did not start`)), 30_000)
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8")
      const ready = /READY (\S+)/.exec(out)
      if (ready !== null) {
        clearTimeout(timer)
        resolve({ url: ready[1]!, child })
      }
    })
    child.on("exit", (code) => reject(new Error(`the ${kind} server exited with ${code}`)))
  })

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.removeAllListeners("exit")
    child.on("exit", () => resolve())
    child.kill("SIGTERM")
  })

const body = `${JSON.stringify({ _tag: "Request", id: "0", tag: "Reserve", payload: { sku: "anvil" }, headers: [] })}\n`

const load = (url: string, tokens: ReadonlyArray<string>, connections: number, seconds: number) => {
  let next = 0
  return autocannon({
    url,
    connections,
    duration: seconds,
    requests: [{
      method: "POST",
      headers: { "content-type": "application/ndjson" },
      body,
      setupRequest: (request) => ({
        ...request,
        headers: { ...request.headers, authorization: `Bearer ${tokens[next++ % tokens.length]}` }
      })
    }]
  })
}

/**
 * The plain server, the Warden servers with the counting sink and with `AuditFile`, and the hand-written one up
 * together, loaded in turns: one turn of each per rotation, which goes first shifting each rotation. Each rotation
 * gives Warden's and the hand-written middleware's throughput over the plain server's, and the file sink's over the
 * counting sink's, side by side.
 */
const turnsSideBySide = async (
  jwksUrl: string,
  auditDir: string,
  tokens: ReadonlyArray<string>,
  connections: number,
  options: { readonly rotations: number; readonly seconds: number; readonly warmupSeconds: number }
): Promise<
  { readonly warden: PairedThroughput; readonly file: PairedThroughput; readonly hand: PairedThroughput }
> => {
  const servers: Array<{ readonly url: string; readonly child: ChildProcess }> = []
  try {
    for (const kind of ["rpc-plain", "rpc-warden", "rpc-warden-file", "rpc-hand"]) {
      servers.push(await start(kind, jwksUrl, auditDir))
    }
    for (const { url } of servers) await load(url, tokens, connections, options.warmupSeconds)
    const rate = (url: string) => async () => {
      const result = await load(url, tokens, connections, options.seconds)
      check(result.non2xx === 0 && result.errors === 0, `${result.non2xx} non-2xx, ${result.errors} errors`)
      return result.requests.average
    }
    const [plain, warden, file, hand] = await rotating(options.rotations, servers.map(({ url }) => rate(url)))
    return {
      warden: { ...summarise(warden!.map((w, i) => w / plain![i]!)), seconds: options.seconds },
      file: { ...summarise(file!.map((f, i) => f / warden![i]!)), seconds: options.seconds },
      hand: { ...summarise(hand!.map((h, i) => h / plain![i]!)), seconds: options.seconds }
    }
  } finally {
    for (const { child } of servers) await stop(child)
  }
}

export const run = async (log: (line: string) => void, options: { readonly quick: boolean }): Promise<HttpResults> => {
  const key = await generateKey("ES256", "bench-http")
  const jwks = await startJwks([key])
  const sign = fastSigner(key)
  const tenants = 10
  const tokens = Array.from(
    { length: 1000 },
    (_, i) => sign({ sub: `user-${i}`, tid: `tenant-${i % tenants}`, perms: ["inventory:stock:*"] })
  )
  const connections = 32
  const seconds = options.quick ? 3 : 8
  const warmupSeconds = options.quick ? 1 : 4
  const roundsCount = options.quick ? 1 : 3
  const auditDir = mkdtempSync(join(tmpdir(), "warden-bench-audit-"))
  let paired: PairedThroughput
  let pairedFile: PairedThroughput
  let pairedHand: PairedThroughput
  const figures = new Map<string, Array<autocannon.Result>>(kinds.map(([, name]) => [name, []]))
  try {
    for (let round = 0; round < roundsCount; round++) {
      const order = round % 2 === 0 ? kinds : [...kinds].reverse()
      for (const [kind, name] of order) {
        const { child, url } = await start(kind, jwks.url, auditDir)
        try {
          // Every server must answer a protected request correctly before it is timed.
          const probe = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/ndjson", authorization: `Bearer ${tokens[0]}` },
            body
          })
          const text = await probe.text()
          check(probe.status === 200 && text.includes("reserved"), `${name} answered ${probe.status}: ${text}`)
          await load(url, tokens, connections, warmupSeconds)
          const result = await load(url, tokens, connections, seconds)
          check(
            result.non2xx === 0 && result.errors === 0,
            `${name}: ${result.non2xx} non-2xx, ${result.errors} errors`
          )
          figures.get(name)!.push(result)
          log(`  ${name}: ${result.requests.average.toFixed(0)} requests/s`)
        } finally {
          await stop(child)
        }
      }
    }
    const side = await turnsSideBySide(jwks.url, auditDir, tokens, connections, {
      rotations: options.quick ? 1 : 6,
      seconds: options.quick ? 2 : 4,
      warmupSeconds
    })
    paired = side.warden
    pairedFile = side.file
    pairedHand = side.hand
    log(
      `  side by side, in turns: Warden / no auth ${paired.median.toFixed(2)}×, hand-written / no auth ${
        pairedHand.median.toFixed(2)
      }×, AuditFile / counting sink ${pairedFile.median.toFixed(2)}×`
    )
  } finally {
    await jwks.close()
    rmSync(auditDir, { recursive: true, force: true })
  }
  return {
    tokens: tokens.length,
    tenants,
    connections,
    seconds,
    warmupSeconds,
    paired,
    pairedFile,
    pairedHand,
    results: kinds.map(([, name]) => {
      const results = figures.get(name)!
      const rounds = results.map((r) => r.requests.average)
      return {
        name,
        rounds,
        median: median(rounds),
        latencyP50: median(results.map((r) => r.latency.p50)),
        latencyP99: median(results.map((r) => r.latency.p99)),
        errors: results.reduce((n, r) => n + r.errors + r.non2xx, 0)
      }
    })
  }
}
