/**
 * `npm run bench`: Warden against the libraries people would pick instead,
 * in one process, and bench/BENCHMARKS.md written from the results.
 *
 * tsc -b && node --expose-gc --import tsx bench/main.ts
 *
 * Warden's packages load as published, compiled by tsc (`dist`); only this
 * harness goes through tsx. The run stops if they resolve to their sources.
 */
import { readFileSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import { fileURLToPath } from "node:url"
import * as Costs from "./costs.js"
import * as HttpBench from "./http.js"
import { byName, gc } from "./lib/harness.js"
import type { Timing } from "./lib/harness.js"
import { profile } from "./lib/profile.js"
import type { ProfileSummary } from "./lib/profile.js"
import * as Memory from "./memory.js"
import * as PolicyBench from "./policy.js"
import * as Pressure from "./pressure.js"
import * as RpcBench from "./rpc.js"
import * as Stores from "./stores.js"
import * as Verification from "./verification.js"

/** WARDEN_BENCH_QUICK=1: one round and 10,000 cached tokens, to try the harness; the report says so. */
const quick = process.env["WARDEN_BENCH_QUICK"] === "1"
const rounds = quick ? 1 : 5
const started = performance.now()
const log = (line: string) => console.log(line)
const elapsed = () => {
  gc()
  const heap = process.memoryUsage().heapUsed / 2 ** 20
  return `${((performance.now() - started) / 1000).toFixed(0)} s, heap ${heap.toFixed(0)} MiB`
}

if ((globalThis as { gc?: unknown }).gc === undefined) {
  console.error("bench: run with node --expose-gc (npm run bench does)")
  process.exit(1)
}
for (const name of ["@warden/core", "@warden/jwt", "@warden/rpc"]) {
  if (!import.meta.resolve(name).includes("/dist/")) {
    console.error(`bench: ${name} resolves to its sources; run npm run bench (compiled packages, no @warden/source)`)
    process.exit(1)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Environment

/** The installed version: the root node_modules holds every package measured (the Warden ones as workspace links). */
const versionOf = (name: string): string => {
  const path = fileURLToPath(new URL(`../node_modules/${name}/package.json`, import.meta.url))
  return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version
}
const libraries = [
  ["@warden/core", "Warden"],
  ["@warden/jwt", "Warden"],
  ["@warden/rpc", "Warden"],
  ["effect", "Warden's runtime"],
  ["@effect/rpc", "RPC framework"],
  ["@effect/platform", "HTTP"],
  ["@effect/platform-node", "HTTP server"],
  ["jose", "JWK import in Warden; a JWT baseline"],
  ["fast-jwt", "JWT"],
  ["casbin", "policy"],
  ["@casl/ability", "policy"],
  ["mitata", "timing"],
  ["tsx", "TypeScript loader"]
].map(([name, role]) => ({ name: name!, role: role!, version: versionOf(name!) }))

const cpus = os.cpus()
const machine = {
  cpu: cpus[0]?.model ?? "unknown",
  cores: cpus.length,
  memoryGiB: os.totalmem() / 2 ** 30,
  node: process.version,
  v8: process.versions.v8,
  os: `${os.type()} ${os.release()} (${os.arch()})`
}

// ---------------------------------------------------------------------------------------------------------------
// Runs

log(`Warden benchmarks: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`)
log(`1-2. token verification (${elapsed()})`)
const verification = await Verification.run(rounds, log)
log(`3. RPC path (${elapsed()})`)
const rpc = await RpcBench.run(rounds, log)
log(`4. policy checks (${elapsed()})`)
const policy = await PolicyBench.run(rounds, log)
log(`5. JWKS under pressure (${elapsed()})`)
const pressure = await Pressure.run(log)
log(`6. memory (${elapsed()})`)
const memory = await Memory.run(log, quick ? 10_000 : 100_000)
log(`7. HTTP at saturation (${elapsed()})`)
const http = await HttpBench.run(log, { quick })
log(`8. shared stores (${elapsed()})`)
const stores = await Stores.run(log, rounds)
log(`building blocks (${elapsed()})`)
const costs = await Costs.run(rounds)

// ---------------------------------------------------------------------------------------------------------------
// Targets

const T = Verification.names
const hit = byName(verification.repeated, T.hitNow)
const hitFiber = byName(verification.repeated, T.hitFiber)
const hitRunSync = byName(verification.repeated, T.hitRunSync)
const fastHit = byName(verification.repeated, T.fastJwtHit)
const fastHitRaw = byName(verification.repeated, T.fastJwtHitRaw)
const firstSightRatios = verification.firstSight.map(({ alg, blocks, label, timings }) => ({
  alg,
  label,
  ratio: byName(timings, T.warden).median / byName(timings, T.fastJwt).median,
  blocks: blocks.median,
  floor: byName(timings, T.warden).median / byName(timings, T.floor).median,
  fastFloor: byName(timings, T.fastJwt).median / byName(timings, T.floor).median
}))
const P = PolicyBench.names
const matcherCheck = byName(policy.timings, P.matcher)
const pipelineCheck = byName(policy.timings, P.pipeline)
const caslCheck = byName(policy.timings, P.casl)
const casbinCheck = byName(policy.timings, P.casbin)
const R = RpcBench.names
const memPlain = byName(rpc.inMemory, R.memPlain)
const memWarden = byName(rpc.inMemory, R.memWarden)
const memTable = byName(rpc.inMemory, R.memWardenTable)
const blocksRatio = (memPlain.median + rpc.blocksInMemory.median) / memPlain.median
const handRatio = rpc.blocksInMemory.median / rpc.blocksInMemoryHand.median
const H = HttpBench.names
const throughput = (name: string) => http.results.find((r) => r.name === name)!
const httpPlain = throughput(H.rpcPlain)
const httpWarden = throughput(H.rpcWarden)
const httpFile = throughput(H.rpcWardenFile)

interface Target {
  readonly target: string
  readonly measured: string
  readonly ratio: string
  readonly met: boolean
  readonly miss: string
  readonly profile?: () => Promise<ProfileSummary>
  readonly profileName: string
}

const worstFirstSight = firstSightRatios.reduce((a, b) => (b.ratio > a.ratio ? b : a))
const targets: Array<Target> = [
  {
    target: "Cached verification at least as fast as fast-jwt's cache hit",
    measured: `Warden ${fmt(hit.median)} per hit (verifyNow; ${
      fmt(hitFiber.median)
    } through verify in a fiber); fast-jwt ${fmt(fastHit.median)}`,
    ratio: `${(hit.median / fastHit.median).toFixed(2)}× fast-jwt's time (target ≤ 1.00×)`,
    met: hit.median <= fastHit.median,
    miss: `${(hit.median / fastHit.median).toFixed(2)}× fast-jwt's default cache (${
      fmt(hit.median - fastHit.median)
    } more per hit)`,
    profile: () => profile(verification.workloads.cacheHit, 1500),
    profileName: "a Warden cache hit (ES256 token, verifyNow, 256 per call)"
  },
  {
    target: "First-sight verification no slower than fast-jwt's fastest configuration, per algorithm",
    measured: firstSightRatios.map((r) =>
      `${r.alg} ${r.ratio.toFixed(2)}× fast-jwt over rounds, ${r.blocks.toFixed(2)}× in alternating blocks (${
        r.floor.toFixed(2)
      }× the node:crypto floor; fast-jwt ${r.fastFloor.toFixed(2)}×)`
    ).join(", "),
    ratio: `worst ${worstFirstSight.ratio.toFixed(2)}× over rounds (${worstFirstSight.alg}), ${
      Math.max(...firstSightRatios.map((r) => r.blocks)).toFixed(2)
    }× in blocks (target ≤ 1.00× in both)`,
    met: firstSightRatios.every((r) => r.ratio <= 1 && r.blocks <= 1),
    miss: firstSightRatios
      .filter((r) => r.ratio > 1 || r.blocks > 1)
      .map((r) => `${r.alg} ${r.ratio.toFixed(2)}× fast-jwt's time over rounds, ${r.blocks.toFixed(2)}× in blocks`)
      .join(", "),
    profile: () => profile(verification.workloads.firstSight("ES256"), 2000),
    profileName: "Warden's first-sight ES256 verification (verifyNow, cache off)"
  },
  {
    target: "Memory per cached token no more than fast-jwt's per entry",
    measured: `Warden ${memory.perEntryBytes.toFixed(0)} B per entry, fast-jwt ${
      memory.fastJwt.perEntryBytes.toFixed(0)
    } B`,
    ratio: `${(memory.perEntryBytes / memory.fastJwt.perEntryBytes).toFixed(2)}× (target ≤ 1.00×)`,
    met: memory.perEntryBytes <= memory.fastJwt.perEntryBytes,
    miss: `${(memory.perEntryBytes / memory.fastJwt.perEntryBytes).toFixed(2)}× fast-jwt's bytes per entry`,
    profileName: "the heap (section 6)"
  },
  {
    target: "Permission check inside the pipeline at least as fast as @casl/ability's can on the same queries",
    measured: `Policy.evaluate ${fmt(pipelineCheck.median)} per check; CASL ${fmt(caslCheck.median)}; bare matcher ${
      fmt(matcherCheck.median)
    }`,
    ratio: `${(pipelineCheck.median / caslCheck.median).toFixed(2)}× CASL's time (target ≤ 1.00×)`,
    met: pipelineCheck.median <= caslCheck.median,
    miss: `${(pipelineCheck.median / caslCheck.median).toFixed(2)}× CASL's time per check`,
    profileName: "Policy.evaluate on the mixed queries"
  },
  {
    target: "Permission check at least 100× node-casbin on the multi-tenant model",
    measured: `pipeline ${(casbinCheck.median / pipelineCheck.median).toFixed(0)}×; bare matcher ${
      (casbinCheck.median / matcherCheck.median).toFixed(0)
    }×`,
    ratio: `${(casbinCheck.median / pipelineCheck.median).toFixed(0)}× (target ≥ 100×)`,
    met: casbinCheck.median / pipelineCheck.median >= 100,
    miss: `${(casbinCheck.median / pipelineCheck.median).toFixed(0)}× casbin`,
    profileName: "as above"
  },
  {
    target: "A protected in-memory call on a cached token at most 1.3× the plain call",
    measured: `plain ${fmt(memPlain.median)}, Warden ${fmt(memWarden.median)} (table Authenticator ${
      fmt(memTable.median)
    }); blocks side by side ${signed(rpc.blocksInMemory.median)}`,
    ratio: `${(memWarden.median / memPlain.median).toFixed(2)}× over rounds, ${
      blocksRatio.toFixed(2)
    }× from the blocks (target ≤ 1.30×)`,
    met: memWarden.median / memPlain.median <= 1.3 && blocksRatio <= 1.3,
    miss: `${(memWarden.median / memPlain.median).toFixed(2)}× over rounds and ${blocksRatio.toFixed(2)}× in blocks`,
    profile: () => profile(rpc.workloads.inMemoryWarden, 2000),
    profileName: "one in-memory RPC call through Warden's protection (cached token)"
  },
  {
    target: "Warden's added cost at most 2× a hand-written one-service middleware's",
    measured: `blocks side by side: Warden ${signed(rpc.blocksInMemory.median)}, hand-written ${
      signed(rpc.blocksInMemoryHand.median)
    } (over rounds: ${signed(rpc.addedInMemory)} and ${signed(rpc.addedInMemoryHand)})`,
    ratio: `${handRatio.toFixed(2)}× (target ≤ 2.00×)`,
    met: handRatio <= 2,
    miss: `${handRatio.toFixed(2)}× the hand-written middleware's added cost`,
    profileName: "as above"
  },
  {
    target: "Over loopback HTTP a protected Effect RPC server sustains at least 0.9× the same server without auth",
    measured: `${httpWarden.median.toFixed(0)} against ${httpPlain.median.toFixed(0)} requests/s (${
      http.tokens.toLocaleString("en")
    } tokens over ${http.tenants} tenants); express + express-oauth2-jwt-bearer ${
      (throughput(H.expressJwt).median / throughput(H.expressPlain).median).toFixed(2)
    }× bare express`,
    ratio: `${(httpWarden.median / httpPlain.median).toFixed(2)}× over rounds, ${
      http.paired.median.toFixed(2)
    }× side by side in turns (target ≥ 0.90× in both)`,
    met: httpWarden.median / httpPlain.median >= 0.9 && http.paired.median >= 0.9,
    miss: `${(httpWarden.median / httpPlain.median).toFixed(2)}× the throughput without auth over rounds, ${
      http.paired.median.toFixed(2)
    }× side by side`,
    profileName: "the protected HTTP server under load"
  },
  {
    target: "The file audit sink does not cap the server: AuditFile at least 0.95× a sink that writes nothing",
    measured: `${httpFile.median.toFixed(0)} against ${httpWarden.median.toFixed(0)} requests/s`,
    ratio: `${(httpFile.median / httpWarden.median).toFixed(2)}× over rounds, ${
      http.pairedFile.median.toFixed(2)
    }× side by side in turns (target ≥ 0.95× in both)`,
    met: httpFile.median / httpWarden.median >= 0.95 && http.pairedFile.median >= 0.95,
    miss: `${(httpFile.median / httpWarden.median).toFixed(2)}× the counting sink's throughput over rounds, ${
      http.pairedFile.median.toFixed(2)
    }× side by side`,
    profileName: "as above"
  }
]

log(`profiles of missed targets (${elapsed()})`)
const profiles: Array<{ readonly name: string; readonly summary: ProfileSummary }> = []
for (const t of targets) {
  if (!t.met && t.profile !== undefined) profiles.push({ name: t.profileName, summary: await t.profile() })
}

await verification.close()
await rpc.close()

// ---------------------------------------------------------------------------------------------------------------
// Report

function fmt(ns: number): string {
  const abs = Math.abs(ns)
  if (abs >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`
  if (abs >= 1e4) return `${(ns / 1e3).toFixed(0)} µs`
  if (abs >= 1e3) return `${(ns / 1e3).toFixed(1)} µs`
  return `${ns.toFixed(0)} ns`
}
function signed(ns: number): string {
  return `${ns >= 0 ? "+" : ""}${fmt(ns)}`
}
function fmtRate(ns: number): string {
  const perSecond = 1e9 / ns
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M/s` : `${(perSecond / 1e3).toFixed(1)} k/s`
}
const range = (t: Timing) => `${fmt(t.min)} – ${fmt(t.max)}`
const row = (cells: ReadonlyArray<string | number>) => `| ${cells.join(" | ")} |`
const table = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>) =>
  [row(head), row(head.map(() => "---")), ...rows.map(row)].join("\n")

const runtimeSeconds = (performance.now() - started) / 1000
const md: Array<string> = []
md.push(`# Warden benchmarks
${quick ? "\n**QUICK RUN (WARDEN_BENCH_QUICK=1): one round, 10,000 cached tokens. Not for reading.**\n" : ""}
Generated by \`npm run bench\` (\`bench/main.ts\`) on ${new Date().toISOString().slice(0, 10)}: every library below
was measured in this one process, in one run of ${runtimeSeconds.toFixed(0)} s. These are benchmarks, not tests:
nothing here is asserted in the test suite and CI does not run them. Regenerate with \`npm run bench\`.

## Machine

${
  table(["", ""], [
    ["CPU", `${machine.cpu}`],
    ["cores", machine.cores],
    ["memory", `${machine.memoryGiB.toFixed(1)} GiB`],
    ["Node.js", `${machine.node} (V8 ${machine.v8})`],
    ["OS", machine.os],
    ["flags", "`--expose-gc --import tsx` (tsx for the harness; Warden's packages from `dist`)"]
  ])
}

## Versions

${table(["package", "version", "role"], libraries.map((l) => [`\`${l.name}\``, l.version, l.role]))}

## Method

- Timing with mitata's \`measure\`. Every sample is a batch of calls lasting about 2 ms (the batch size is
  calibrated per case), so the GC and scheduler work a call causes is inside its figure, as it is in a service.
  A round's figure is mitata's p50 over its samples. mitata runs a full collection before each measurement,
  except for the RPC calls of section 3: after a full collection the young generation is at its smallest, and a
  case that allocates as much as an RPC call spends its whole measurement collecting more often than a running
  service ever does, which slows every such call and scatters its rounds; those are measured in the heap's
  steady state. Each case runs ${rounds} rounds, the cases of a table
  interleaved (the order rotates each round); **the figure reported is the median of the ${rounds} rounds**, with
  the range over rounds beside it. A first call of each case (calibration) warms it up and fails the run if the
  case fails.
- Warden runs as it is published: its packages compiled by \`tsc -b\` (\`dist\`), as every other library measured here
  runs from its published JavaScript; only the harness goes through tsx. (Through tsx, esbuild's \`keepNames\` wraps
  every function created at run time in an \`Object.defineProperty\` call, which the compiled code does not make and
  which costs the request path several microseconds; the run stops if Warden resolves to its sources.) Effect's
  default runtime with no tracer installed (so its spans are Effect's native spans) and the default metric registry.
  Asynchronous candidates (jose) are awaited call by call; synchronous ones (Warden's \`verifyNow\`, fast-jwt,
  node:crypto, the permission matchers) are called in a plain loop.
- Everything talks to 127.0.0.1 only: the JWKS endpoint and the RPC HTTP servers are loopback servers started by
  the run; every loop is bounded in count and time.

## Targets

${
  table(
    ["target", "measured (medians, same run)", "ratio", "met?"],
    targets.map((t) => [t.target, t.measured, t.ratio, t.met ? "**met**" : `**missed**: ${t.miss}`])
  )
}
`)

// 1
md.push(`## 1. First-sight verification

A token the verifier has not seen. Warden's \`JwtVerifier.verifyNow\` (the synchronous call the request pipeline
makes; it answers without an Effect when the key is already imported) with its cache off (\`cacheSize: 0\`), and
with the cache on but every token new (a cache half the size of the 128-token pool the cases cycle through, so each
call is a miss, a verification and an insert with eviction); \`verify\` run by \`Effect.runSync\` per call; fast-jwt's
fastest configuration (\`createVerifier\` with a PEM key, synchronous, no cache); bare \`jose.jwtVerify\` with
\`createLocalJWKSet\` (WebCrypto, awaited); and the floor, one bare \`node:crypto\` \`verify\` on the pre-decoded
signing input and signature. All check the same things where they can: algorithm, issuer, audience, \`typ\`
\`at+jwt\`, \`exp\`/\`nbf\` with 30 s skew, required claims. Warden also runs its strict compact/JSON checks, its
lifetime and \`iat\` checks, claims-to-\`Principal\` decoding, the revocation lookup (in-memory store) and metrics.
`)
for (const { blocks, label, timings } of verification.firstSight) {
  const fast = byName(timings, T.fastJwt).median
  const floor = byName(timings, T.floor).median
  md.push(`### ${label}

${
    table(
      ["candidate", "per verification", "range over rounds", "vs fast-jwt", "vs node:crypto floor"],
      timings.map((t) => [
        t.name,
        fmt(t.median),
        range(t),
        `${(t.median / fast).toFixed(2)}×`,
        `${(t.median / floor).toFixed(2)}×`
      ])
    )
  }

In ${blocks.pairs} alternating blocks of ${blocks.calls} verifications each, Warden's \`verifyNow\` (cache off) took
${blocks.median.toFixed(2)}× fast-jwt's time (median of the pairs' ratios; p25 ${blocks.p25.toFixed(2)}×, p75 ${
    blocks.p75.toFixed(2)
  }×).
`)
}

// 2
md.push(`## 2. Repeated tokens (verified-token cache)

The same ES256 token verified again and again after a first verification. Warden's hit digests the token
(SHA-256, the cache key), checks the token's expiry and that its key is still current, asks the revocation store
and counts two metrics. \`verifyNow\` is the request pipeline's call; "verify inside a running fiber" is the
Effect API inside a request (256 hits per \`Effect.runSync\`); "runSync per call" adds starting a fiber for each.
fast-jwt's default cache key is a SHA-256 of the token; with the token itself as key (which fast-jwt warns
against) its hit is a map lookup.

${
  table(
    ["candidate", "per verification", "range over rounds", "per second", "vs fast-jwt (default)"],
    [hit, hitFiber, hitRunSync, fastHit, fastHitRaw].map((t) => [
      t.name,
      fmt(t.median),
      range(t),
      fmtRate(t.median),
      `${(t.median / fastHit.median).toFixed(2)}×`
    ])
  )
}
`)

// 3
const plainHttp = byName(rpc.http, RpcBench.names.httpPlain)
const httpSpread = plainHttp.max - plainHttp.min
md.push(`## 3. The whole RPC path

One \`Reserve\` call, payload \`{ sku }\`, a handler that returns a string. "No auth" is the plain group; "Warden" is
the same group through \`Protected.group\` with \`Policy.permission(catalogue, "inventory:stock:reserve")\`: the
request pipeline (\`Guard\`: credentials read strictly, the real \`JwtVerifier\` on a cached ES256 token, the tenant,
the grants from the token's claims, the policy as data, span attributes, a metric and an audit event into a
buffered counting sink) and one provision of \`CurrentUser\`, \`CurrentTenant\` and \`CurrentScopes\`. The "table
Authenticator" row swaps the verifier for \`Authenticator.layerTest\` to separate the pipeline from the verifier's
cache hit. "Hand-written" is the baseline of the budget: one ordinary RPC middleware that provides one service
from a map lookup of the \`authorization\` header. Every server runs with the same services in its context (the RPC
server copies it per request). The same \`authorization\` header is sent on all. Over HTTP:
\`RpcServer.layerProtocolHttp\` with ndjson on a Node server bound to 127.0.0.1, \`FetchHttpClient\`, keep-alive.

${
  table(
    ["protocol", "call", "per call", "range over rounds"],
    [
      ...rpc.inMemory.map((t) => ["in memory", t.name, fmt(t.median), range(t)]),
      ...rpc.http.map((t) => [
        "HTTP",
        t.name,
        fmt(t.median),
        range(t)
      ])
    ]
  )
}

**Added per call**, two ways:

${
  table(["protocol", "median over rounds of (Warden − no auth)", "blocks side by side: median (p25 – p75)"], [
    [
      "in memory, JwtVerifier",
      `${signed(rpc.addedInMemory)}`,
      `${signed(rpc.blocksInMemory.median)} (${fmt(rpc.blocksInMemory.p25)} – ${fmt(rpc.blocksInMemory.p75)})`
    ],
    ["in memory, table Authenticator (the pipeline alone)", `${signed(rpc.addedInMemoryTable)}`, "–"],
    [
      "in memory, hand-written one-service middleware",
      `${signed(rpc.addedInMemoryHand)}`,
      `${signed(rpc.blocksInMemoryHand.median)} (${fmt(rpc.blocksInMemoryHand.p25)} – ${
        fmt(rpc.blocksInMemoryHand.p75)
      })`
    ],
    [
      "HTTP, JwtVerifier",
      signed(rpc.addedHttp),
      `${signed(rpc.blocksHttp.median)} (${fmt(rpc.blocksHttp.p25)} – ${fmt(rpc.blocksHttp.p75)})`
    ]
  ])
}

In memory, the blocks run in ${rpc.blocksInMemory.blocks} rotations of three blocks of ${rpc.blocksInMemory.callsPerBlock} calls (no auth, Warden,
hand-written; the order shifts each rotation), each figure Warden's or the hand-written block minus the no-auth
block of the same rotation, so both added costs are measured against the same plain calls and slow drift of the
machine cancels out; over HTTP, ${rpc.blocksHttp.blocks} pairs of ${rpc.blocksHttp.callsPerBlock} calls, each Warden
block next to a no-auth block. Over HTTP the round-to-round spread of the plain call alone is
${fmt(httpSpread)}, which is why the blocks are the figure to read there.
`)

// 4
const d = policy.data
md.push(`## 4. Permission checks

One data set for all three engines: ${PolicyBench.userCount.toLocaleString("en")} users, ${PolicyBench.tenants.length}
tenants, ${PolicyBench.permissions.length} permissions (\`module:resource:action\`, 5 × 5 × 4), six roles per tenant
(\`owner\` = \`*\` with denies; \`viewer\` = every read/list permission spelled out, with a deny; \`inventory-manager\`,
\`billing-admin\` and \`auditor\` with module wildcards and per-tenant denies; \`orders-clerk\` with resource
wildcards and a deny). Each user holds 1–2 roles in 1–4 tenants (${d.memberships.toLocaleString("en")} memberships).
Denies win everywhere.

- **Warden**: a membership's role grants and denies compiled with \`Permission.compile\`; the bare matcher is
  \`PermissionSet.check\`; "the pipeline's decision" is \`Policy.evaluate\` of \`Policy.permission(catalogue, p)\`
  over the principal, tenant and grants, the request pipeline's own path (batched, as the matcher and CASL are);
  "inside Effect" evaluates \`Policy.decide(Policy.permission(catalogue, p))\` with
  \`CurrentScopes\` provided, as the Authorization middleware does, or with \`CurrentScopes\` already in the context,
  as a handler would; policies are built once per permission.
- **node-casbin**: RBAC with domains, \`g = _, _, _\`, \`keyMatch\` on the object, deny-override effect,
  ${d.casbinPolicies} \`p\` rules and ${
  d.casbinGroupings.toLocaleString("en")
} \`g\` rules, \`enforceSync(user, tenant, permission)\`.
- **@casl/ability**: one ability per membership (as one per request), subject type \`module:resource\`, action the
  last segment; \`*\` is \`manage all\`, wildcards expand over the catalogue; \`cannot\` rules after \`can\` rules.

**Agreement**: before any timing, ${d.sample.toLocaleString("en")} random queries (7 in 10 in one of the user's
tenants) were answered by Warden (matcher and Policy in Effect) and CASL, the first ${
  d.casbinSample.toLocaleString("en")
} of them also by casbin (it takes milliseconds per query): no disagreement (${d.allowed} allowed,
${d.denied} denied by a rule, ${d.notGranted} not granted). A disagreement fails the run. Setup: Warden compiles
every membership in ${d.setupMs.warden.toFixed(0)} ms, casbin loads its rules in ${d.setupMs.casbin.toFixed(0)} ms,
CASL builds the abilities in ${d.setupMs.casl.toFixed(0)} ms.

All engines cycle through the same 4,096 queries (about the same mix).

${
  table(
    ["candidate", "per check", "range over rounds", "checks per second", "speed-up over casbin"],
    policy.timings.map((t) => [
      t.name,
      fmt(t.median),
      range(t),
      fmtRate(t.median),
      `${(casbinCheck.median / t.median).toFixed(0)}×`
    ])
  )
}
`)

// 5
const r = pressure.rotation
const f = pressure.flood
md.push(`## 5. JWKS under pressure

The key store on a loopback JWKS endpoint that counts requests (cooldown ${f.cooldownMs} ms, so the bound is
visible within a short run; the default is 30 s).

- **Rotation**: the identity service publishes a new key; ${r.tokens.toLocaleString("en")} distinct tokens signed by
  it are verified concurrently (\`Effect.forEach\`, unbounded). **JWKS fetches: ${r.fetches}** (required: 1);
  verified: ${r.verified.toLocaleString("en")} of ${r.tokens.toLocaleString("en")}; wall time
  ${(r.wallMs / 1000).toFixed(2)} s (${fmt((r.wallMs * 1e6) / r.tokens)} per token on ${machine.cores} cores).
- **Flood of random kids** for ${(f.durationMs / 1000).toFixed(1)} s: ${f.randomKidTokens.toLocaleString("en")} tokens
  naming unknown kids (waves of 200 concurrent), with valid tokens verified alongside. **JWKS fetches:
  ${f.fetches}** (bound: one per cooldown, ${f.fetchBound}); every random-kid token refused with \`unknown_key\`
  (${f.refusedUnknownKey.toLocaleString("en")}); valid tokens verified: **${f.validVerified} of ${f.validTokens}**.
  Valid-token latency (fresh tokens, no cache hits): p50 ${fmt(f.validP50BeforeUs * 1000)} before the flood,
  p50 ${fmt(f.validP50DuringUs * 1000)} and p99 ${fmt(f.validP99DuringUs * 1000)} during it: their kid is known, so they
  never wait for a fetch; they wait behind the flood's waves on the same event loop (each refused token still costs
  the strict parse, the key lookup and an \`Unauthenticated\` error: ${
  fmt((f.durationMs * 1e6) / (f.randomKidTokens + f.validTokens))
} of wall time per token of the flood).
`)

// 6
md.push(`## 6. Memory

- **${memory.tokens.toLocaleString("en")} cached tokens** (distinct ES256 tokens of ${memory.tokenLength} characters,
  each verified once, \`cacheSize: ${memory.tokens.toLocaleString("en")}\`; the default is 10,000): the heap grew by
  **${(memory.retainedBytes / 2 ** 20).toFixed(1)} MiB**, **${memory.perEntryBytes.toFixed(0)} B per cached
  verification** (after a full GC before and after). The entry holds the token string itself (the key,
  ${memory.tokenLength} one-byte characters), the decoded \`Principal\` (scopes, grants, tenants) and the LRU's map
  entry. Filling took ${(memory.fillMs / 1000).toFixed(1)} s.
- fast-jwt's cache, filled the same way with ${memory.fastJwt.tokens.toLocaleString("en")} tokens:
  ${memory.fastJwt.perEntryBytes.toFixed(0)} B per entry (it keys by a SHA-256 of the token and keeps the payload).
- **One cache hit allocates about ${(memory.allocatedPerHitBytes / 1024).toFixed(1)} KiB** (median heap growth
  over windows of 100 hits after a full GC): short-lived garbage, but it is what the young-generation GC pays for
  on every call.
`)

// 7
md.push(`## 7. Throughput at saturation over loopback HTTP

autocannon (${http.connections} connections, ${http.seconds} s per measurement after a ${http.warmupSeconds} s warm-up,
in the benchmark's process) against one server at a time, each in its own process so that it has a core to itself; the servers take
turns, the order reversed each round, and the figure is the median over rounds. Every request carries one of
${http.tokens.toLocaleString("en")} distinct ES256 tokens over ${http.tenants} tenants (so the verifier sees each
token first, then serves it from its cache). The RPC servers answer \`Reserve\` over ndjson; the express servers
answer the same body. The Warden servers check \`Policy.permission\` and record every decision, into a buffered
sink that writes nothing, or into \`AuditFile\`.

${
  table(
    ["server", "requests per second", "per round", "latency p50", "latency p99", "vs the same server without auth"],
    http.results.map((r) => [
      r.name,
      r.median.toFixed(0),
      r.rounds.map((x) => x.toFixed(0)).join(", "),
      `${r.latencyP50} ms`,
      `${r.latencyP99} ms`,
      r.name.startsWith("Effect") ?
        `${(r.median / httpPlain.median).toFixed(2)}×` :
        `${(r.median / throughput(H.expressPlain).median).toFixed(2)}×`
    ])
  )
}

Side by side: the RPC server without auth, the one under Warden with the buffered counting sink, the one with
\`AuditFile\` and the one with the hand-written middleware up together, each warmed up, then loaded in ${http.paired.pairs} rotations of ${http.paired.seconds} s turns
(one turn each, which goes first shifting each rotation), so the machine's drift between turns cancels out of each
rotation: Warden served ${
  http.paired.median.toFixed(2)
}× the requests of the server without auth (median of the rotations; p25 ${http.paired.p25.toFixed(2)}×, p75 ${
  http.paired.p75.toFixed(2)
}×), and with \`AuditFile\` ${http.pairedFile.median.toFixed(2)}× the requests of the counting sink (p25 ${
  http.pairedFile.p25.toFixed(2)
}×, p75 ${http.pairedFile.p75.toFixed(2)}×). For reference, the hand-written one-service middleware served ${
  http.pairedHand.median.toFixed(2)
}× the requests of the server without auth (p25 ${http.pairedHand.p25.toFixed(2)}×, p75 ${
  http.pairedHand.p75.toFixed(2)
}×): the cost of any middleware on this path, before Warden's own work.
`)

const S = Stores.names
const storeEmpty = byName(stores.timings, S.empty)
const added = (name: string) => byName(stores.timings, name).median - storeEmpty.median
const beside = (memoryName: string, redisName: string) => {
  const ratio = added(redisName) / Math.max(added(memoryName), 1)
  return `${ratio.toFixed(ratio < 10 ? 1 : 0)}× the memory layer's`
}
md.push(`## 8. Shared stores: memory against Redis

The added cost per call of what a request asks the shared stores, on the memory layers and on Redis
(\`@warden/redis\`, ioredis, a \`redis-server\` on loopback), measured side by side in this run, interleaved.
Each call runs as its own Effect; the cost of an empty run (${fmt(storeEmpty.median)}) is subtracted. The
revocation check is what the verifier asks for every request, cached token or not; grants are
\`GrantSource.fromRoles\` over the role store and the grants cache. A hit "in process" is the Redis cache's own
copy, kept while its subscription to invalidations is live; a hit "in Redis" is one round trip; after an
invalidation the read is a miss: the cache, the role store, the conditional write (and, timed with it, the
invalidation itself).

${
  table(
    ["call", "added cost per call", "per round (including the empty run)"],
    stores.timings.filter((t) => t.name !== S.empty).map((t) => [
      t.name,
      fmt(t.median - storeEmpty.median),
      t.rounds.map((x) => fmt(x)).join(", ")
    ])
  )
}

Redis against memory: the revocation check ${beside(S.revocationMemory, S.revocationRedis)}; a grants hit in
process ${beside(S.grantsMemoryHit, S.grantsRedisLocal)}, in Redis ${beside(S.grantsMemoryHit, S.grantsRedisHit)};
a read after an invalidation ${beside(S.grantsMemoryMiss, S.grantsRedisMiss)}. Each call here waits for its answer
before the next is sent, so the Redis figures are one round trip each (${
  fmt(added(S.revocationRedis))
} for the revocation check's \`MGET\`; four for a read after an invalidation), mostly
waiting, not CPU: under load the event loop serves other requests meanwhile. The Redis grants cache's copy in
process is what keeps a hit off the network.
`)

// Building blocks and profiles
md.push(`## Building blocks (same run, inside a running fiber)

What the pieces Warden's hot paths are made of cost on this machine: the explanation, from timings, of the
figures above.

${
  table(
    ["operation", "per operation", "range over rounds"],
    costs.timings.map((t) => [t.name, fmt(t.median), range(t)])
  )
}
`)

const missed = targets.filter((t) => !t.met)
const C = Costs.names
const c = costs.of
const areaShare = (summary: ProfileSummary | undefined, prefix: string) =>
  summary?.areas.filter((a) => a.area.startsWith(prefix)).reduce((n, a) => n + a.selfPercent, 0) ?? 0
const profileOf = (name: string) => profiles.find((p) => p.name === name)?.summary
const topOf = (summary: ProfileSummary | undefined) => {
  const top = summary?.hotspots.find((h) => h.fn !== "(garbage collector)" && h.fn !== "(idle)")
  return top === undefined ? "" : `\`${top.fn}\` (\`${top.where}\`, ${top.selfPercent.toFixed(0)}%)`
}
const targetNamed = (prefix: string) => targets.find((t) => t.target.startsWith(prefix))!
const profileShares = (t: Target) =>
  `${areaShare(profileOf(t.profileName), "effect").toFixed(0)}% of the profile's self time in effect, ${
    areaShare(profileOf(t.profileName), "@warden").toFixed(0)
  }% in Warden's modules, ${areaShare(profileOf(t.profileName), "garbage").toFixed(0)}% GC; top function ${
    topOf(profileOf(t.profileName))
  }`
const reasons: Record<string, string> = {
  [targetNamed("Cached verification").target]: `A hit is a SHA-256 of the token (the cache key, as fast-jwt's),
the LRU lookup, the expiry and key-still-current checks, the revocation store's synchronous answer and two metric
updates. ${profileShares(targetNamed("Cached verification"))}.`,
  [targetNamed("First-sight").target]: `Beyond the signature (the same node:crypto call as the floor), Warden's
first sight runs the strict compact and JSON checks (\`Compact.split\` alone ${fmt(c(C.split))}), its claim checks
and the claims-to-\`Principal\` decoding (\`Claims.toPrincipal\` alone ${fmt(c(C.toPrincipal))}), the key lookup
and the revocation check. ${profileShares(targetNamed("First-sight"))}. Beyond the floor, Warden spends ${
    verification.firstSight.map(({ alg, timings }) => {
      const floor = byName(timings, T.floor).median
      return `${fmt(byName(timings, T.warden).median - floor)} (${alg}; fast-jwt ${
        fmt(byName(timings, T.fastJwt).median - floor)
      })`
    }).join(", ")
  }: meeting the target takes that difference out of the strict checks and the principal's construction, whose
parts each cost a few hundred nanoseconds (the profile below).`,
  [targetNamed("Memory per cached").target]: `An entry holds the 44-character digest key, the \`Principal\`
(subject, tenant, scopes, grants compiled from the claims), the key it was verified with and the LRU's map entry.`,
  [targetNamed("Permission check inside").target]: `Policy.evaluate walks the policy as data: the permission check
is the compiled matcher (${fmt(matcherCheck.median)}, which keeps its answers per grant set) and a decision value
built once per grant. CASL's \`can\` looks up the rules indexed by action and subject type.`,
  [targetNamed("A protected in-memory").target]: `Warden's share of a call: the pipeline on its fast path
(\`Guard.runNow\` alone ${fmt(c(C.runNow))}), one provision of the services (\`provideService\` alone ${
    fmt(c(C.provide))
  }; the hand-written middleware pays one too), the credential read and the span attributes set in place. ${
    profileShares(targetNamed("A protected in-memory"))
  }.`,
  [targetNamed("Over loopback HTTP").target]: `Over HTTP each request pays the server's own HTTP and RPC work (${
    fmt(1e9 / httpPlain.median)
  } of CPU per request at saturation without auth); Warden adds the strict header read, a cache hit and the
pipeline, and a first-sight verification for each of the ${http.tokens.toLocaleString("en")} tokens early in the run.
Side by side, a hand-written one-service middleware alone served ${
    http.pairedHand.median.toFixed(2)
  }× the requests without auth, Warden ${http.paired.median.toFixed(2)}×.`
}
md.push(`## Where targets are missed, and why

${missed.length === 0 ? "Every target is met." : ""}${
  missed.map((t) =>
    `### ${t.target}

Missed: ${t.miss}.

${reasons[t.target] ?? ""}
`
  ).join("\n")
}
## Profiles

Each profile was taken in this run with the V8 sampling profiler (the one \`node --cpu-prof\` uses, through
\`node:inspector\`, 100 µs interval) over the Warden workload of a missed target. Self time is spread thin across
Effect's fiber runtime, which interprets every step of Warden's code, so the time by area tells more than the top
functions do. The inspector's own \`dispatch\` (serialising the profile when it stops) is left out.
`)
for (const { name, summary } of profiles) {
  md.push(`### Profile: ${name}

${summary.samples.toLocaleString("en")} samples. Self time by area: ${
    summary.areas.filter((a) => a.selfPercent >= 0.5).map((a) => `${a.area} ${a.selfPercent.toFixed(0)}%`).join(", ")
  }.

${
    table(
      ["function", "where", "self time"],
      summary.hotspots.map((h) => [`\`${h.fn}\``, `\`${h.where}\``, `${h.selfPercent.toFixed(1)}%`])
    )
  }
`)
}

const outPath = fileURLToPath(new URL("BENCHMARKS.md", import.meta.url))
writeFileSync(outPath, md.join("\n"))
log(`wrote ${outPath} in ${elapsed()}`)
