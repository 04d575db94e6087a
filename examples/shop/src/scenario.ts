/**
 * The scenario `npm start` runs and the tests check: an identity service, and
 * the orders and inventory services, each its own HTTP server on loopback,
 * every hop verifying the user's token again. Nine steps, each returning what
 * happened and the decision's reason; the spans and the audit files they left.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import { AuthError } from "@warden/core"
import type { AuditLog } from "@warden/core"
import { Outbound } from "@warden/rpc"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { mkdirSync, readFileSync, rmSync } from "node:fs"
import { request as httpsRequest } from "node:https"
import { join } from "node:path"
import { PlacedOrder } from "./gateway.js"
import { clients, Identity, people, resources } from "./identity.js"
import { Inventory, stockOf } from "./inventory.js"
import { Orders } from "./orders.js"
import { start } from "./shop.js"
import type * as State from "./state.js"
import * as Telemetry from "./telemetry.js"

/** One step as printed: what was tried, what happened, and the reason Warden gave. */
export interface Step {
  readonly n: number
  readonly title: string
  readonly outcome: "allowed" | "refused"
  readonly detail: string
  /** The decision's reason: the grant that allowed, or the refusal's reason. */
  readonly reason: string
  readonly traceId: string
}

/** Everything the scenario leaves behind. */
export interface Report {
  readonly urls: {
    readonly identity: string
    readonly gateway: string
    readonly orders: string
    readonly inventory: string
  }
  readonly steps: ReadonlyArray<Step>
  readonly spans: ReadonlyArray<Telemetry.SpanView>
  readonly audit: {
    readonly gateway: ReadonlyArray<AuditLog.AuditEvent>
    readonly orders: ReadonlyArray<AuditLog.AuditEvent>
    readonly inventory: ReadonlyArray<AuditLog.AuditEvent>
  }
  readonly stock: { readonly globexBefore: number; readonly globexAfter: number }
  /** Anvils in each tenant before and after dave's stock adjustments (steps 8 and 9). */
  readonly adjusted: {
    readonly acme: { readonly before: number; readonly after: number }
    readonly globex: { readonly before: number; readonly after: number }
  }
  /** `GET /api/stock/anvil` at the gateway with alice's token: the status and the body. */
  readonly restStock: { readonly status: number; readonly body: unknown }
  /** The same read by the reports service with its API key. */
  readonly apiKeyStock: { readonly status: number; readonly body: unknown }
  /** Orders at the inventory's internal mTLS edge, with its client certificate and without one. */
  readonly mtls: {
    readonly withCertificate: { readonly status: number; readonly body: unknown }
    readonly without: { readonly status: number; readonly body: unknown }
  }
  readonly burst: {
    readonly orders: number
    readonly failed: number
    readonly kids: ReadonlyArray<string>
    /** How many orders of the burst carried a token signed by the new key. */
    readonly signedByNewKey: number
  }
}

type Who = keyof typeof people

/** Logs a person in at the identity service (password grant), for both the orders and inventory resources. */
export const login = (identity: Identity, who: Who, options: { readonly expiresIn?: number } = {}) =>
  Effect.promise(async () => {
    const cli = clients["shop-cli"]
    const form = new URLSearchParams({
      grant_type: "password",
      username: people[who].username,
      password: Redacted.value(people[who].password)
    })
    form.append("resource", resources.gateway)
    form.append("resource", resources.orders)
    form.append("resource", resources.inventory)
    if (options.expiresIn !== undefined) form.set("expires_in_hint", String(options.expiresIn))
    const basic = Buffer.from(`${cli.clientId}:${Redacted.value(cli.clientSecret)}`).toString("base64")
    const response = await fetch(identity.tokenEndpoint, {
      method: "POST",
      headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
      body: form
    })
    const body = await response.json() as { access_token?: string; error?: string }
    if (body.access_token === undefined) throw new Error(`login of ${who} failed: ${body.error ?? response.status}`)
    return body.access_token
  })

/** A refusal's body as Warden's HTTP adapter writes it, or the body itself. */
const refusalOf = (body: unknown): unknown => {
  const decoded = Schema.decodeUnknownEither(Schema.Union(AuthError.Unauthenticated, AuthError.Forbidden))(body)
  return decoded._tag === "Right" ? decoded.right : body
}

/** A GET over TLS with the given CA and, when given, a client certificate. */
const tlsGet = (url: string, tls: { readonly ca: Buffer; readonly key?: Buffer; readonly cert?: Buffer }) =>
  Effect.async<{ status: number; body: unknown }>((resume) => {
    const req = httpsRequest(url, { ...tls, agent: false }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => (text += chunk))
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown })))
    })
    req.on("error", (e) => resume(Effect.die(e)))
    req.end()
  })

/** The `kid` a token was signed with. */
const kidOf = (token: string): string | undefined =>
  (JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString("utf8")) as { kid?: string }).kid

export const bearer = (token: string) => RpcClient.withHeaders({ authorization: `Bearer ${token}` })

export const protocol = (url: string) =>
  RpcClient.layerProtocolHttp({ url }).pipe(
    Layer.provide(RpcSerialization.layerNdjson),
    Layer.provide(FetchHttpClient.layer)
  )

const reasonOf = (error: unknown): string =>
  AuthError.isAuthError(error) ?
    `${error._tag} (${error.code ?? "no error code"}, ${error.reason})` :
    typeof error === "object" && error !== null && "_tag" in error ?
    String(error._tag) :
    String(error)

const detailOf = (error: unknown): string =>
  AuthError.isAuthError(error) ?
    error.description :
    error instanceof Outbound.MissingCredentials ?
    error.message :
    String(error)

/**
 * Runs the scenario; `auditDir` receives each service's JSONL audit file, and `state` keeps what the services
 * share (memory when not given).
 */
export const scenario = (auditDir: string, options: { readonly state?: State.State } = {}) =>
  Effect.gen(function*() {
    rmSync(auditDir, { recursive: true, force: true })
    mkdirSync(auditDir, { recursive: true })
    const auditPath = (service: string) => join(auditDir, `${service}.audit.jsonl`)
    const exporter = yield* Effect.serviceOption(SpanMemory)
    const identity = yield* Identity
    // The services live in a scope of their own, closed before the audit files are read: closing it writes what
    // their buffered audit logs still hold.
    const servicesScope = yield* Scope.make()
    const services = yield* start(identity, auditDir, {}, options.state).pipe(Scope.extend(servicesScope))
    const { stock } = services
    const { gateway: gatewayUrl, inventory: inventoryUrl, orders: ordersUrl } = services.urls
    // Plain HTTP to the REST edge, as curl would send it (with the step's trace context, so its trace is whole).
    const rest = yield* HttpClient.HttpClient.pipe(Effect.provide(FetchHttpClient.layer))
    const placeViaGateway = (token: string) =>
      rest.post(`${gatewayUrl}/api/orders`, {
        headers: { authorization: `Bearer ${token}` },
        body: HttpBody.unsafeJson({ sku: "anvil", quantity: 1 })
      }).pipe(
        Effect.flatMap((response) =>
          response.status === 200 ?
            HttpClientResponse.schemaBodyJson(PlacedOrder)(response) :
            Effect.flatMap(response.json, (body) => Effect.fail(refusalOf(body)))
        )
      )
    // The command line plays several people, so it sets each call's authorization header itself.
    const orders = yield* RpcClient.make(Orders).pipe(
      Effect.provide(Outbound.layerManual),
      Effect.provide(protocol(ordersUrl))
    )
    const inventory = yield* RpcClient.make(Inventory).pipe(
      Effect.provide(Outbound.layerManual),
      Effect.provide(protocol(inventoryUrl))
    )
    const stockNow = (tenant: string) => stockOf(tenant, "anvil").pipe(Effect.provide(stock))

    const steps: Array<Step> = []
    const step = <A, E>(
      n: number,
      title: string,
      run: Effect.Effect<A, E>,
      allowed: (a: A) => readonly [string, string]
    ) =>
      Effect.gen(function*() {
        const span = yield* Effect.currentSpan.pipe(Effect.orDie)
        const result = yield* Effect.either(run)
        const base = { n, title, traceId: span.traceId }
        steps.push(
          Either.isRight(result) ?
            { ...base, outcome: "allowed", detail: allowed(result.right)[0], reason: allowed(result.right)[1] } :
            { ...base, outcome: "refused", detail: detailOf(result.left), reason: reasonOf(result.left) }
        )
      }).pipe(Effect.withSpan(`scenario.step${n}`))

    const alice = yield* login(identity, "alice")
    const order = (token: string, tenant = "acme", headers: Record<string, string> = {}) =>
      orders.PlaceOrder({ tenant, sku: "anvil", quantity: 1 }).pipe(bearer(token), RpcClient.withHeaders(headers))
    const described = (
      o: {
        orders: { tenant: string; user: string }
        inventory: { tenant: string; user: string; scope: string; remaining: number }
      }
    ) =>
      [
        `orders saw tenant=${o.orders.tenant} user=${o.orders.user}; inventory saw tenant=${o.inventory.tenant} ` +
        `user=${o.inventory.user} scope=${o.inventory.scope}; ${o.inventory.remaining} anvils left`,
        "scope orders.write"
      ] as const

    // 1. The happy path, from the REST edge: gateway, then orders, then inventory, each verifying alice's token.
    yield* step(
      1,
      "alice@acme places an order at the REST gateway (POST /api/orders)",
      placeViaGateway(alice),
      ({ gateway, order }) => {
        const [detail, reason] = described(order)
        return [`gateway saw tenant=${gateway.tenant} user=${gateway.user}; ${detail}`, reason] as const
      }
    )

    // 2. The leak attempt: the payload and a spoofed x-tenant header both name globex.
    const globexBefore = yield* stockNow("globex")
    yield* step(
      2,
      "alice@acme tries to reserve globex stock (payload globex, x-tenant: globex)",
      order(alice, "globex", { "x-tenant": "globex" }),
      described
    )
    const globexAfter = yield* stockNow("globex")

    // 3. A token without orders.write: Orders lets it through, Inventory refuses.
    const carol = yield* login(identity, "carol")
    yield* step(3, "carol@acme (no orders.write) places an order", order(carol), described)

    // 4. A handler whose client forgets to forward: refused at Orders before any request to Inventory.
    yield* step(
      4,
      "Orders calls Inventory with a client that forgets to forward",
      orders.PlaceOrderForgetful({ tenant: "acme", sku: "anvil", quantity: 1 }).pipe(bearer(alice)),
      described
    )

    // 5. A token that would expire between hops: refused at Orders, clearly.
    const brief = yield* login(identity, "alice", { expiresIn: 3 })
    yield* step(5, "alice@acme orders with a token 3 s from expiry", order(brief), described)

    // 6. Key rotation at identity in the middle of a burst of orders. The identity service publishes the new key
    //    first and signs with it only after the services have refreshed their key sets; the second half of the
    //    burst waits for the switch, so its tokens carry the new key.
    const burstSize = 40
    const rotated = yield* Deferred.make<string>()
    const burst = Effect.forEach(
      Array.from({ length: burstSize }, (_, i) => i),
      (i) =>
        Effect.gen(function*() {
          if (i >= burstSize / 2) yield* Deferred.await(rotated)
          const token = yield* login(identity, i % 2 === 0 ? "alice" : "bob")
          const placed = yield* Effect.either(order(token, i % 2 === 0 ? "acme" : "globex"))
          return { placed, kid: kidOf(token) }
        }),
      { concurrency: 4 }
    )
    const rotation = Effect.flatMap(identity.rotate(), (kid) => Effect.as(Deferred.succeed(rotated, kid), kid))
    let burstResult: Report["burst"] = { orders: 0, failed: 0, kids: [], signedByNewKey: 0 }
    yield* step(
      6,
      `a burst of ${burstSize} orders by alice@acme and bob@globex while identity rotates its signing key`,
      Effect.map(Effect.all([burst, rotation], { concurrency: 2 }), ([results, kid]) => {
        const failed = results.filter((r) => Either.isLeft(r.placed)).length
        const signedByNewKey = results.filter((r) => r.kid === kid).length
        burstResult = { orders: results.length, failed, kids: identity.kids(), signedByNewKey }
        return { failed, kid, signedByNewKey }
      }),
      ({ failed, kid, signedByNewKey }) =>
        [
          `${burstSize} orders, ${failed} failed; ${signedByNewKey} signed by the new key ${kid}, published ahead ` +
          "and picked up by both services before its first token",
          failed === 0 ? "every token verified" : "some tokens failed"
        ] as const
    )

    // 7. A stream that ends when its token does.
    const watcher = yield* login(identity, "bob", { expiresIn: 3 })
    let readings = 0
    yield* step(
      7,
      "bob@globex watches globex's anvil stock with a token 3 s from expiry",
      inventory.WatchStock({ sku: "anvil" }).pipe(
        Stream.tap(() => Effect.sync(() => readings++)),
        Stream.take(100),
        Stream.runCollect,
        Effect.map(Chunk.size),
        bearer(watcher),
        Effect.mapError((e) => e)
      ),
      (n) => [`the stream ran to ${n} readings`, "trusted for the stream"] as const
    )
    const last = steps[steps.length - 1]!
    if (last.outcome === "refused") {
      steps[steps.length - 1] = { ...last, detail: `${readings} stock readings, then: ${last.detail}` }
    }

    // 8. and 9. Roles per (user, tenant): dave's token signs acme and globex alike, but the inventory's role store
    //    makes him a clerk in acme and only an auditor in globex, so the same call is allowed in one and refused in
    //    the other, by permission rather than by scope.
    const dave = yield* login(identity, "dave")
    const adjust = (tenant: string) =>
      inventory.AdjustStock({ sku: "anvil", delta: 10 }).pipe(
        bearer(dave),
        RpcClient.withHeaders({ "x-tenant": tenant })
      )
    const acmeBefore = yield* stockNow("acme")
    yield* step(
      8,
      "dave, a clerk in acme, adds 10 anvils to acme's stock (AdjustStock, x-tenant: acme)",
      adjust("acme"),
      (level) => [`acme anvils ${acmeBefore} -> ${level}`, "permission inventory:stock:adjust"] as const
    )
    const acmeAfter = yield* stockNow("acme")
    const globexBeforeAdjust = yield* stockNow("globex")
    yield* step(
      9,
      "dave, only an auditor in globex, tries the same in globex (x-tenant: globex)",
      adjust("globex"),
      (level) => [`globex anvils ${globexBeforeAdjust} -> ${level}`, "permission inventory:stock:adjust"] as const
    )
    const globexAfterAdjust = yield* stockNow("globex")

    // The REST edge's other endpoint: alice reads acme's stock over plain HTTP; the gateway asks the inventory.
    const restStock = yield* rest.get(`${gatewayUrl}/api/stock/anvil`, {
      headers: { authorization: `Bearer ${alice}` }
    })
      .pipe(
        Effect.flatMap((response) => Effect.map(response.json, (body) => ({ status: response.status, body }))),
        Effect.orDie
      )

    // A service with an API key instead of a token: reports reads acme's stock at the gateway, which forwards the key.
    const apiKeyStock = yield* rest.get(`${gatewayUrl}/api/stock/anvil`, {
      headers: { "x-api-key": Redacted.value(services.reportsKey) }
    }).pipe(
      Effect.flatMap((response) => Effect.map(response.json, (body) => ({ status: response.status, body }))),
      Effect.orDie
    )

    // Service to service over mTLS: orders reads acme's stock at the inventory's internal edge with its client
    // certificate, no token; the same request without a certificate is refused.
    const internalUrl = `${services.urls.internal}/internal/stock/anvil`
    const mtlsStock = yield* tlsGet(internalUrl, { ...services.ordersCertificate })
    const mtlsWithout = yield* tlsGet(internalUrl, { ca: services.ordersCertificate.ca })

    yield* Scope.close(servicesScope, Exit.void)
    const readAudit = (service: string): ReadonlyArray<AuditLog.AuditEvent> =>
      readFileSync(auditPath(service), "utf8").split("\n").filter((l) => l.length > 0).map((l) =>
        JSON.parse(l) as AuditLog.AuditEvent
      )

    return {
      urls: { identity: identity.issuer, gateway: gatewayUrl, orders: ordersUrl, inventory: inventoryUrl },
      steps,
      spans: exporter._tag === "Some" ? exporter.value.getFinishedSpans().map(Telemetry.view) : [],
      audit: { gateway: readAudit("gateway"), orders: readAudit("orders"), inventory: readAudit("inventory") },
      stock: { globexBefore, globexAfter },
      adjusted: {
        acme: { before: acmeBefore, after: acmeAfter },
        globex: { before: globexBeforeAdjust, after: globexAfterAdjust }
      },
      restStock,
      apiKeyStock,
      mtls: { withCertificate: mtlsStock, without: mtlsWithout },
      burst: burstResult
    } satisfies Report
  }).pipe(Effect.scoped)

/** The in-memory span exporter the scenario reads its traces from. */
export class SpanMemory extends Context.Tag("shop/SpanMemory")<SpanMemory, Telemetry.InMemorySpanExporter>() {}

/** Telemetry for the scenario: spans kept in memory (and exported by OTLP when configured). */
export const withTelemetry = <A, E, R>(effect: Effect.Effect<A, E, R>) => {
  const exporter = new Telemetry.InMemorySpanExporter()
  return effect.pipe(Effect.provideService(SpanMemory, exporter), Effect.provide(Telemetry.layer(exporter)))
}
