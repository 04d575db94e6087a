/**
 * The scenario `npm start` runs and the tests check: an identity service (the
 * token service), a REST gateway, and the orders and inventory services, each
 * its own HTTP server on loopback, every hop verifying the caller's token
 * again. Twelve steps, each returning what happened and the decision's reason;
 * the spans and the audit files they left.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import { AuthError } from "@warden/core"
import type { AuditLog } from "@warden/core"
import { ClientAuth } from "@warden/oauth"
import { Outbound } from "@warden/rpc"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
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
import type { Identity } from "./identity.js"
import { clients, makeIdentity, people, resources } from "./identity.js"
import { Inventory, stockOf } from "./inventory.js"
import { Orders } from "./orders.js"
import { start } from "./shop.js"
import * as State from "./state.js"
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

/** A form POST to the identity service as the client `client` (HTTP Basic); the status and the JSON body. */
const postForm = (url: string, client: keyof typeof clients, form: URLSearchParams) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { ...ClientAuth.apply(clients[client]).headers, "content-type": "application/x-www-form-urlencoded" },
      body: form
    })
    const text = await response.text()
    return {
      status: response.status,
      body: (text === "" ? {} : JSON.parse(text)) as {
        readonly access_token?: string
        readonly refresh_token?: string
        readonly error?: string
      }
    }
  })

/** What a login or a refresh gives: the access token and, from `shop-cli`, a refresh token. */
export interface Session {
  readonly access: string
  readonly refresh: string | undefined
}

const sessionOf = (what: string) => (answer: Effect.Effect.Success<ReturnType<typeof postForm>>) =>
  answer.body.access_token === undefined ?
    Effect.die(new Error(`${what} failed: ${answer.body.error ?? answer.status}`)) :
    Effect.succeed<Session>({ access: answer.body.access_token, refresh: answer.body.refresh_token })

/**
 * Logs a person in at the identity service (password grant, `shop-cli`) for the gateway, orders and inventory
 * alike; `brief` logs in through `shop-cli-brief`, whose tokens live 3 seconds.
 */
export const signIn = (identity: Identity, who: Who, options: { readonly brief?: boolean } = {}) => {
  const form = new URLSearchParams({
    grant_type: "password",
    username: people[who].username,
    password: Redacted.value(people[who].password)
  })
  for (const resource of Object.values(resources)) form.append("resource", resource)
  return postForm(identity.tokenEndpoint, options.brief === true ? "shop-cli-brief" : "shop-cli", form).pipe(
    Effect.flatMap(sessionOf(`login of ${who}`))
  )
}

/** A login's access token. */
export const login = (identity: Identity, who: Who, options: { readonly brief?: boolean } = {}) =>
  Effect.map(signIn(identity, who, options), (s) => s.access)

/** Trades a refresh token for the next pair (`shop-cli`); the identity service's answer. */
export const refresh = (identity: Identity, refreshToken: string) =>
  postForm(
    identity.tokenEndpoint,
    "shop-cli",
    new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken })
  )

/** Logs out (RFC 7009): revokes the session of `token`, a refresh or an access token. */
export const logout = (identity: Identity, token: string) =>
  Effect.map(postForm(identity.revocationEndpoint, "shop-cli", new URLSearchParams({ token })), (a) => a.status)

/** A step refused by several services, each for its own reason. */
class RefusedEverywhere extends Data.TaggedError("RefusedEverywhere")<{
  readonly reason: string
  readonly detail: string
}> {}

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
  error instanceof RefusedEverywhere ?
    error.reason :
    AuthError.isAuthError(error) ?
    `${error._tag} (${error.code ?? "no error code"}, ${error.reason})` :
    typeof error === "object" && error !== null && "_tag" in error ?
    String(error._tag) :
    String(error)

const detailOf = (error: unknown): string =>
  error instanceof RefusedEverywhere ?
    error.detail :
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
    const shared = options.state ?? (yield* State.memory)
    // The identity service writes its logouts to the revocation store the services read.
    const identity = yield* makeIdentity({ stores: yield* shared.instance })
    // The services live in a scope of their own, closed before the audit files are read: closing it writes what
    // their buffered audit logs still hold.
    const servicesScope = yield* Scope.make()
    const services = yield* start(identity, auditDir, {}, shared).pipe(Scope.extend(servicesScope))
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
        inventory: { tenant: string; user: string; actor: string | null; scope: string; remaining: number }
      }
    ) =>
      [
        `orders saw tenant=${o.orders.tenant} user=${o.orders.user}; inventory saw tenant=${o.inventory.tenant} ` +
        `user=${o.inventory.user} actor=${o.inventory.actor ?? "none"} scope=${o.inventory.scope}; ` +
        `${o.inventory.remaining} anvils left`,
        "scope orders.write, actor orders"
      ] as const

    // 1. The happy path, from the REST edge: gateway, then orders, then inventory, each verifying alice's token; orders
    //    exchanges it for one meant for the inventory alone, which names orders as the acting service.
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
    const brief = yield* login(identity, "alice", { brief: true })
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
      Effect.flatMap(Effect.all([burst, rotation], { concurrency: 2 }), ([results, kid]) =>
        Effect.map(identity.kids, (kids) => {
          const failed = results.filter((r) =>
            Either.isLeft(r.placed)
          ).length
          const signedByNewKey = results.filter((r) => r.kid === kid).length
          burstResult = { orders: results.length, failed, kids, signedByNewKey }
          return { failed, kid, signedByNewKey }
        })),
      ({ failed, kid, signedByNewKey }) =>
        [
          `${burstSize} orders, ${failed} failed; ${signedByNewKey} signed by the new key ${kid}, published ahead ` +
          "and picked up by both services before its first token",
          failed === 0 ? "every token verified" : "some tokens failed"
        ] as const
    )

    // 7. A stream that ends when its token does.
    const watcher = yield* login(identity, "bob", { brief: true })
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

    // 10. The actor requirement: orders sends alice's own token on instead of exchanging it. The inventory accepts
    //     the token as alice's (it names the inventory too) but reserves only for an order placed through orders.
    yield* step(
      10,
      "Orders forwards alice's own token to Inventory instead of exchanging it",
      orders.PlaceOrderForwarded({ tenant: "acme", sku: "anvil", quantity: 1 }).pipe(bearer(alice)),
      described
    )

    // 11. Logout: alice signs in on another device, then logs out at the identity service (RFC 7009). The token is
    //     revoked in the store every service reads, so the gateway, orders and the inventory all refuse it at once.
    const device = yield* signIn(identity, "alice")
    const usable = yield* Effect.either(order(device.access))
    const loggedOut = yield* logout(identity, device.refresh ?? "")
    yield* step(
      11,
      "alice logs out at identity; her token is then tried at the gateway, at orders and at the inventory",
      Effect.gen(function*() {
        // Each try's refusal, or null where the token still worked.
        const refusal = <A, E>(e: Effect.Effect<A, E>) =>
          Effect.match(e, { onFailure: reasonOf, onSuccess: () => null })
        const tries = [
          yield* refusal(placeViaGateway(device.access)),
          yield* refusal(order(device.access)),
          yield* refusal(inventory.StockLevel({ sku: "anvil" }).pipe(bearer(device.access)))
        ]
        const reasons = tries.filter((r): r is string => r !== null)
        if (reasons.length < tries.length) return tries.length - reasons.length
        return yield* new RefusedEverywhere({
          reason: [...new Set(reasons)].join("; "),
          detail: `before the logout orders ${Either.isRight(usable) ? "allowed" : "refused"} it; logout answered ` +
            `${loggedOut}; then gateway, orders, inventory: ${
              reasons.map((r) => /, ([^,)]+)\)$/.exec(r)?.[1] ?? r).join(", ")
            }`
        })
      }),
      (n) => [`the token still works at ${n} of the 3 services`, "not revoked"] as const
    )

    // 12. A stolen refresh token: alice's client refreshes (the old refresh token is used up), then a thief replays
    //     the old one. The identity service sees the reuse and ends the whole session: alice's newest access token,
    //     issued by the refresh a moment earlier, is refused too, and so is her newest refresh token.
    const stolen = yield* signIn(identity, "alice")
    const rotatedPair = yield* refresh(identity, stolen.refresh ?? "").pipe(Effect.flatMap(sessionOf("refresh")))
    const fresh = yield* Effect.either(order(rotatedPair.access))
    yield* step(
      12,
      "a thief replays alice's used refresh token; then her newest access token is tried at orders",
      Effect.gen(function*() {
        const replay = yield* refresh(identity, stolen.refresh ?? "")
        const newest = yield* refresh(identity, rotatedPair.refresh ?? "")
        const tried = yield* Effect.either(order(rotatedPair.access))
        if (Either.isRight(tried)) return tried.right
        const atOrders = tried.left
        return yield* new RefusedEverywhere({
          reason: `replay ${replay.body.error ?? replay.status}; ${reasonOf(atOrders)}`,
          detail: `the refreshed token worked (${Either.isRight(fresh) ? "allowed" : "refused"}) until the replay ` +
            `(${replay.status} ${replay.body.error ?? ""}); then her newest refresh token: ` +
            `${newest.status} ${newest.body.error ?? ""}, her newest access token at orders: ${detailOf(atOrders)}`
        })
      }),
      () => ["the session survived the replay", "reuse not detected"] as const
    )

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
