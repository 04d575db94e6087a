/**
 * 3. The whole RPC path: one call through Warden's full protection
 *    (`Protected.group`: the request pipeline with the real JwtVerifier on a
 *    cached token, a permission policy, span attributes, a metric and an audit
 *    event into a buffered sink) against the same call with no auth, and
 *    against a hand-written middleware that provides one service from a map
 *    lookup of the authorization header, over the in-memory protocol (RpcTest)
 *    and over HTTP on loopback.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import * as RpcTest from "@effect/rpc/RpcTest"
import { AuditLog, Authenticator, Permission, Policy, Principal } from "@warden/core"
import { JwtVerifier } from "@warden/jwt"
import { Outbound, Protected } from "@warden/rpc"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { createServer } from "node:http"
import * as Hand from "./lib/hand.js"
import { check, median, rotating, summarise, timeCases } from "./lib/harness.js"
import type { Timing } from "./lib/harness.js"
import { generateKey, issuer, signWithIssuer, startJwks, verifierLayer } from "./lib/identity.js"

const Inventory = RpcGroup.make(
  Rpc.make("Reserve", { payload: { sku: Schema.String }, success: Schema.String })
)
const Catalogue = Permission.catalogue("inventory:stock:reserve", "inventory:stock:read", "inventory:stock:delete")
const Api = Protected.group(Inventory, { Reserve: Policy.permission(Catalogue, "inventory:stock:reserve") })

const handlers = { Reserve: ({ sku }: { readonly sku: string }) => Effect.succeed(`reserved ${sku}`) }
const PlainHandlers = Inventory.toLayer(handlers)
const ProtectedHandlers = Protected.toLayer(Api, handlers)

/** The audit sink: a buffer written in batches to a counter, so the benchmark measures Warden, not a disk. */
let audited = 0
const CountingAudit = Layer.scoped(
  AuditLog.AuditLog,
  AuditLog.buffered((batch) => Effect.sync(() => void (audited += batch.length)))
)

export const names = {
  memPlain: "in memory, no auth",
  memHand: "in memory, hand-written middleware (one service from a map)",
  memWarden: "in memory, Warden chain + JwtVerifier (cached token)",
  memWardenTable: "in memory, Warden chain + table Authenticator",
  httpPlain: "HTTP, no auth",
  httpWarden: "HTTP, Warden chain + JwtVerifier (cached token)"
} as const

export interface RpcResults {
  readonly inMemory: Array<Timing>
  readonly http: Array<Timing>
  /** Median over rounds of (protected − plain), ns, paired by round. */
  readonly addedInMemory: number
  readonly addedInMemoryHand: number
  readonly addedInMemoryTable: number
  readonly addedHttp: number
  /** The same differences from alternating blocks of calls. */
  readonly blocksInMemory: Blocks
  readonly blocksInMemoryHand: Blocks
  readonly blocksHttp: Blocks
  readonly workloads: { readonly inMemoryWarden: () => Promise<unknown> }
  readonly close: () => Promise<void>
}

const pairedDifference = (a: Timing, b: Timing): number => median(a.rounds.map((r, i) => r - b.rounds[i]!))

/**
 * The added cost measured in blocks side by side: per rotation, (mean of a block of the protected calls) − (mean
 * of the same rotation's block of plain calls).
 */
export interface Blocks {
  readonly blocks: number
  readonly callsPerBlock: number
  readonly median: number
  readonly p25: number
  readonly p75: number
}

/**
 * Blocks of `plain` and of each of `others`, `callsPerBlock` calls each, in `blocks` rotations (the order shifts
 * each rotation); for each of `others`, its added cost per call over the plain block of the same rotation.
 */
const blocksSideBySide = async <const Others extends ReadonlyArray<() => Promise<unknown>>>(
  plain: () => Promise<unknown>,
  others: Others,
  blocks: number,
  callsPerBlock: number
): Promise<{ readonly [K in keyof Others]: Blocks }> => {
  const block = (call: () => Promise<unknown>) => async () => {
    const start = performance.now()
    for (let i = 0; i < callsPerBlock; i++) await call()
    return ((performance.now() - start) * 1e6) / callsPerBlock
  }
  const [plainFigures, ...otherFigures] = await rotating(blocks, [plain, ...others].map(block))
  return otherFigures.map((figures) => ({
    ...summarise(figures.map((f, i) => f - plainFigures![i]!)),
    blocks,
    callsPerBlock
  })) as unknown as { readonly [K in keyof Others]: Blocks }
}

export const run = async (rounds: number, log: (line: string) => void): Promise<RpcResults> => {
  const key = await generateKey("ES256", "bench-rpc")
  const jwks = await startJwks([key])
  const token = await signWithIssuer(key)
  const headers = RpcClient.withHeaders({ authorization: `Bearer ${token}` })
  const scope = Effect.runSync(Scope.make())
  const build = <A, E>(layer: Layer.Layer<A, E>) => Effect.runPromise(Layer.buildWithScope(layer, scope))

  const wardenDeps = ProtectedHandlers.pipe(
    Layer.merge(Protected.layer),
    Layer.merge(Outbound.layerManual),
    Layer.provide(JwtVerifier.layerAuthenticator),
    Layer.provide(verifierLayer(jwks.url)),
    Layer.provide(CountingAudit)
  )
  // The same principal from a table: isolates the middlewares from the verifier.
  const principal = Principal.make({
    subject: "user-0042",
    tenant: "tenant-3",
    issuer,
    scopes: ["orders.write"],
    permissions: { allow: ["inventory:stock:*", "orders:order:read"], deny: ["inventory:stock:delete"] },
    expiresAt: Math.floor(Date.now() / 1000) + 3600
  })
  const tableDeps = ProtectedHandlers.pipe(
    Layer.merge(Protected.layer),
    Layer.merge(Outbound.layerManual),
    Layer.provide(Authenticator.layerTest([[token, principal]])),
    Layer.provide(CountingAudit)
  )

  // Every server of the comparison runs with the same services in its context (the RPC server copies that context
  // for each request, so its size is part of every call's cost), whether it uses them or not.
  const sameContext = Layer.mergeAll(Protected.layer, Outbound.layerManual).pipe(
    Layer.provideMerge(JwtVerifier.layerAuthenticator),
    Layer.provideMerge(verifierLayer(jwks.url)),
    Layer.provideMerge(CountingAudit)
  )

  // In memory.
  const plainClient = Effect.runSync(
    RpcTest.makeClient(Inventory).pipe(
      Effect.provide(await build(PlainHandlers.pipe(Layer.provide(sameContext)))),
      Scope.extend(scope)
    )
  )
  const wardenClient = await Effect.runPromise(
    RpcTest.makeClient(Api).pipe(Effect.provide(await build(wardenDeps)), Scope.extend(scope))
  )
  const tableClient = Effect.runSync(
    RpcTest.makeClient(Api).pipe(Effect.provide(await build(tableDeps)), Scope.extend(scope))
  )
  const handTable = new Map([[`Bearer ${token}`, "user-0042"]])
  const handDeps = Hand.layer((authorization) => handTable.get(authorization) ?? "").pipe(Layer.provide(sameContext))
  const handClient = Effect.runSync(
    RpcTest.makeClient(Hand.HandApi).pipe(Effect.provide(await build(handDeps)), Scope.extend(scope))
  )
  const memHand = () => Effect.runPromise(handClient.Reserve({ sku: "anvil" }).pipe(headers))
  const memPlain = () => Effect.runPromise(plainClient.Reserve({ sku: "anvil" }).pipe(headers))
  const memWarden = () => Effect.runPromise(wardenClient.Reserve({ sku: "anvil" }).pipe(headers))
  const memTable = () => Effect.runPromise(tableClient.Reserve({ sku: "anvil" }).pipe(headers))
  for (const call of [memPlain, memHand, memWarden, memTable]) {
    check(await call() === "reserved anvil", "an RPC call failed")
  }
  // The sink writes in batches (at most 10 ms after the first event): let the earlier calls' events land first.
  const settle = async () => {
    for (let i = 0, last = -1; i < 200 && audited !== last; i++) {
      last = audited
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  await settle()
  const before = audited
  await memWarden()
  await settle()
  check(audited === before + 1, "the Warden chain did not record exactly one decision")

  const inMemory = await timeCases(
    [
      { name: names.memPlain, fn: memPlain },
      { name: names.memHand, fn: memHand },
      { name: names.memWarden, fn: memWarden },
      { name: names.memWardenTable, fn: memTable }
    ],
    rounds,
    { forcedGc: false }
  )
  log(`  in memory: ${inMemory.map((t) => `${t.name} ${(t.median / 1000).toFixed(1)} µs`).join("; ")}`)
  // Warden's and the hand-written middleware's blocks in the same rotations, each next to the same plain block.
  const [blocksInMemory, blocksInMemoryHand] = await blocksSideBySide(memPlain, [memWarden, memHand], 300, 50)
  log(
    `  in memory, blocks side by side: Warden +${(blocksInMemory.median / 1000).toFixed(1)} µs, hand-written +${
      (blocksInMemoryHand.median / 1000).toFixed(1)
    } µs per call`
  )

  // Over HTTP (ndjson), each server on its own loopback port.
  const listen = NodeHttpServer.layer(() => createServer(), { port: 0, host: "127.0.0.1" })
  const plainServerLayer = HttpRouter.Default.serve().pipe(
    Layer.provide(RpcServer.layer(Inventory)),
    Layer.provide(RpcServer.layerProtocolHttp({ path: "/rpc" })),
    Layer.provide(PlainHandlers),
    Layer.provide(RpcSerialization.layerNdjson),
    Layer.provideMerge(listen)
  )
  const wardenServerLayer = HttpRouter.Default.serve().pipe(
    Layer.provide(RpcServer.layer(Api)),
    Layer.provide(RpcServer.layerProtocolHttp({ path: "/rpc" })),
    Layer.provide(wardenDeps),
    Layer.provide(RpcSerialization.layerNdjson),
    Layer.provideMerge(listen)
  )
  const urlOf = (context: Context.Context<HttpServer.HttpServer>) =>
    Effect.runSync(
      HttpServer.addressFormattedWith((address) => Effect.succeed(`${address}/rpc`)).pipe(Effect.provide(context))
    )
  const protocol = (url: string) =>
    Layer.mergeAll(
      RpcClient.layerProtocolHttp({ url }).pipe(
        Layer.provide(RpcSerialization.layerNdjson),
        Layer.provide(FetchHttpClient.layer)
      ),
      Outbound.layerManual
    )
  const plainServer = await build(plainServerLayer)
  const wardenServer = await build(wardenServerLayer)
  const plainHttp = Effect.runSync(
    RpcClient.make(Inventory).pipe(Effect.provide(await build(protocol(urlOf(plainServer)))), Scope.extend(scope))
  )
  const wardenHttp = Effect.runSync(
    RpcClient.make(Api).pipe(Effect.provide(await build(protocol(urlOf(wardenServer)))), Scope.extend(scope))
  )
  const httpPlain = () => Effect.runPromise(plainHttp.Reserve({ sku: "anvil" }).pipe(headers))
  const httpWarden = () => Effect.runPromise(wardenHttp.Reserve({ sku: "anvil" }).pipe(headers))
  for (const call of [httpPlain, httpWarden]) check(await call() === "reserved anvil", "an HTTP RPC call failed")
  const http = await timeCases(
    [
      { name: names.httpPlain, fn: httpPlain },
      { name: names.httpWarden, fn: httpWarden }
    ],
    rounds,
    { forcedGc: false }
  )
  log(`  HTTP: ${http.map((t) => `${t.name} ${(t.median / 1000).toFixed(1)} µs`).join("; ")}`)
  const [blocksHttp] = await blocksSideBySide(httpPlain, [httpWarden], 40, 10)
  log(`  HTTP, blocks side by side: +${(blocksHttp.median / 1000).toFixed(1)} µs per call`)

  const find = (timings: ReadonlyArray<Timing>, name: string) => timings.find((t) => t.name === name)!
  return {
    inMemory,
    http,
    addedInMemory: pairedDifference(find(inMemory, names.memWarden), find(inMemory, names.memPlain)),
    addedInMemoryHand: pairedDifference(find(inMemory, names.memHand), find(inMemory, names.memPlain)),
    addedInMemoryTable: pairedDifference(find(inMemory, names.memWardenTable), find(inMemory, names.memPlain)),
    addedHttp: pairedDifference(find(http, names.httpWarden), find(http, names.httpPlain)),
    blocksInMemory,
    blocksInMemoryHand,
    blocksHttp,
    workloads: { inMemoryWarden: memWarden },
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await jwks.close()
    }
  }
}
