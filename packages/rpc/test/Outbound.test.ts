/**
 * The seed story across two services: Orders calls Inventory over Effect RPC
 * on HTTP, forwarding the user's token or using its own, and Inventory
 * verifies whatever arrives.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import type * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as RpcServer from "@effect/rpc/RpcServer"
import * as RpcTest from "@effect/rpc/RpcTest"
import { describe, expect, it } from "@effect/vitest"
import {
  AuditLog,
  Authenticator,
  Credential,
  CurrentTenant,
  CurrentUser,
  Policy,
  Principal,
  Tenant
} from "@warden/core"
import { CallerCredentials } from "@warden/core/Caller"
import { TokenSource } from "@warden/oauth"
import { Authentication, Outbound, Protected } from "@warden/rpc"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"

const issuer = "https://identity.test"
const people = {
  alice: Principal.make({ subject: "alice", tenant: "acme", issuer, scopes: ["orders.write"], expiresAt: 600 }),
  brief: Principal.make({ subject: "brief", tenant: "acme", issuer, scopes: ["orders.write"], expiresAt: 3 }),
  watcher: Principal.make({ subject: "watcher", tenant: "acme", issuer, scopes: ["stock.read"], expiresAt: 10 }),
  orders: Principal.make({
    kind: "service",
    subject: "orders",
    clientId: "orders",
    tenant: "acme",
    issuer,
    scopes: ["orders.write"],
    expiresAt: 3600
  })
} as const
const tokenOf = (who: keyof typeof people) => `tok-${who}`
const AuthenticatorLive = Authenticator.layerTest(
  (Object.keys(people) as Array<keyof typeof people>).map((who) => [tokenOf(who), people[who]] as const)
)

const Seen = Schema.Struct({ subject: Schema.String, tenant: Schema.String })

const Inventory = Protected.group(
  RpcGroup.make(
    Rpc.make("Reserve", { payload: { sku: Schema.String }, success: Seen }),
    Rpc.make("Watch", { success: Schema.Number, stream: true }),
    Rpc.make("WatchTrusted", { success: Schema.Number, stream: true }).annotate(
      Authentication.TrustForStreamLifetime,
      true
    )
  ),
  {
    Reserve: Policy.scope("orders.write"),
    Watch: Policy.scope("stock.read"),
    WatchTrusted: Policy.scope("stock.read")
  }
)

const seen = Effect.all({ subject: Effect.map(CurrentUser, (u) => u.subject), tenant: CurrentTenant })
const ticks = Stream.fromSchedule(Schedule.spaced("1 second"))

const InventoryHandlers = Protected.toLayer(Inventory, {
  Reserve: () => seen,
  Watch: () => ticks,
  WatchTrusted: () => ticks
})

const Mode = Schema.Literal("forward", "service", "anonymous")

const Orders = Protected.group(
  RpcGroup.make(
    Rpc.make("PlaceOrder", {
      payload: { mode: Mode },
      success: Seen,
      error: Schema.Union(Outbound.MissingCredentials, Schema.String)
    })
  ),
  { PlaceOrder: Policy.scope("orders.write") }
)

/** Orders' handler calls Inventory with the credentials the payload asks for. */
const OrdersHandlers = (inventoryUrl: string) =>
  Protected.toLayer(
    Orders,
    Effect.gen(function*() {
      const protocol = RpcClient.layerProtocolHttp({ url: inventoryUrl }).pipe(
        Layer.provide(RpcSerialization.layerNdjson),
        Layer.provide(FetchHttpClient.layer)
      )
      const client = (name: string, credentials: Outbound.Credentials) =>
        Outbound.make(Inventory, { name, credentials }).pipe(Effect.provide(protocol))
      const clients = {
        forward: yield* client("inventory (forwarding)", Outbound.forward()),
        service: yield* client(
          "inventory (service)",
          Outbound.service(
            TokenSource.fixed("orders", { value: Redacted.make(tokenOf("orders")), expiresAt: 1e15, scope: undefined })
          )
        ),
        anonymous: yield* client("inventory (anonymous)", Outbound.anonymous)
      }
      return {
        PlaceOrder: ({ mode }) =>
          clients[mode].Reserve({ sku: "anvil" }).pipe(
            Effect.catchTags({
              MissingCredentials: (e) => Effect.fail(e),
              Unauthenticated: (e) => Effect.fail(`downstream or outbound: ${e.reason}`),
              Forbidden: (e) => Effect.fail(`downstream: ${e.reason}`),
              TokenError: (e) => Effect.fail(e.message),
              RpcClientError: (e) => Effect.fail(e.message)
            })
          )
      }
    })
  )

/** Inventory over real HTTP on loopback. */
const InventoryServer = HttpRouter.Default.serve().pipe(
  Layer.provide(RpcServer.layer(Inventory)),
  Layer.provide(RpcServer.layerProtocolHttp({ path: "/rpc" })),
  Layer.provide(InventoryHandlers),
  Layer.provide(Protected.layer),
  Layer.provide(AuthenticatorLive),
  Layer.provide(AuditLog.layerMemory),
  Layer.provide(RpcSerialization.layerNdjson),
  Layer.provideMerge(NodeHttpServer.layerTest)
)

/** Inventory over HTTP, and Orders in memory calling it; both live as long as the test's scope. */
const Services = Effect.gen(function*() {
  const server = yield* Layer.build(InventoryServer)
  const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(`${address}/rpc`)).pipe(
    Effect.provide(server)
  )
  return yield* Layer.build(
    OrdersHandlers(url).pipe(
      Layer.merge(Protected.layer),
      Layer.merge(Outbound.layerManual),
      Layer.provide(AuthenticatorLive),
      Layer.provide(AuditLog.layerMemory)
    )
  )
})

const placeOrder = (who: keyof typeof people, mode: typeof Mode.Type) =>
  Effect.gen(function*() {
    const context = yield* Services
    const orders = yield* RpcTest.makeClient(Orders).pipe(Effect.provide(context))
    return yield* Effect.exit(
      orders.PlaceOrder({ mode }).pipe(RpcClient.withHeaders({ authorization: `Bearer ${tokenOf(who)}` }))
    )
  })

describe("Outbound: calling another service", () => {
  it.scoped("forwarding: Inventory re-verifies the user's token and sees the user and the user's tenant", () =>
    Effect.gen(function*() {
      expect(yield* placeOrder("alice", "forward")).toEqual(Exit.succeed({ subject: "alice", tenant: "acme" }))
    }))

  it.scoped("a service client sends its own token, never the caller's", () =>
    Effect.gen(function*() {
      expect(yield* placeOrder("alice", "service")).toEqual(Exit.succeed({ subject: "orders", tenant: "acme" }))
    }))

  it.scoped("a client that would send no token inside an authenticated request fails before sending, named", () =>
    Effect.gen(function*() {
      const exit = yield* placeOrder("alice", "anonymous")
      expect(exit).toMatchObject(Exit.fail({ _tag: "MissingCredentials", client: "inventory (anonymous)" }))
    }))

  it.scoped("a forwarded token about to expire fails fast at the caller as expired", () =>
    Effect.gen(function*() {
      expect(yield* placeOrder("brief", "forward")).toEqual(Exit.fail("downstream or outbound: expired"))
    }))

  it.scoped("a forwarding client outside any authenticated request has nothing to forward", () =>
    Effect.gen(function*() {
      const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(`${address}/rpc`))
      const client = yield* Outbound.make(Inventory, { name: "batch job", credentials: Outbound.forward() }).pipe(
        Effect.provide(
          RpcClient.layerProtocolHttp({ url }).pipe(
            Layer.provide(RpcSerialization.layerNdjson),
            Layer.provide(FetchHttpClient.layer)
          )
        )
      )
      const error = yield* Effect.flip(client.Reserve({ sku: "anvil" }))
      expect(error).toMatchObject({ _tag: "MissingCredentials", client: "batch job" })
    }).pipe(Effect.provide(NodeHttpServer.layerTest)))
})

describe("streams and token expiry", () => {
  const InventoryInMemory = InventoryHandlers.pipe(
    Layer.merge(Protected.layer),
    Layer.merge(Outbound.layerManual),
    Layer.provide(AuthenticatorLive),
    Layer.provide(AuditLog.layerMemory)
  )
  const watch = (tag: "Watch" | "WatchTrusted") =>
    Effect.gen(function*() {
      const client = yield* RpcTest.makeClient(Inventory)
      const fiber = yield* client[tag]().pipe(
        Stream.take(20),
        Stream.runCollect,
        RpcClient.withHeaders({ authorization: `Bearer ${tokenOf("watcher")}` }),
        Effect.exit,
        Effect.fork
      )
      yield* TestClock.adjust("30 seconds")
      return yield* Fiber.join(fiber)
    }).pipe(Effect.provide(InventoryInMemory))

  it.scoped("a stream ends with Unauthenticated (expired) when its token expires", () =>
    Effect.gen(function*() {
      const exit = yield* watch("Watch")
      expect(exit).toMatchObject(Exit.fail({ _tag: "Unauthenticated", reason: "expired" }))
    }))

  it.scoped("a procedure trusted for the stream's lifetime keeps streaming past the token's expiry", () =>
    Effect.gen(function*() {
      const exit = yield* watch("WatchTrusted")
      expect(Exit.map(exit, Chunk.size)).toEqual(Exit.succeed(20))
    }))
})

describe("over HTTP, with a plain RpcClient", () => {
  const httpClient = (layer: Layer.Layer<RpcMiddleware.ForClient<Authentication.Authentication>>) =>
    Effect.gen(function*() {
      const server = yield* Layer.build(InventoryServer)
      const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(`${address}/rpc`)).pipe(
        Effect.provide(server)
      )
      return yield* RpcClient.make(Inventory).pipe(
        Effect.provide(layer),
        Effect.provide(
          RpcClient.layerProtocolHttp({ url }).pipe(
            Layer.provide(RpcSerialization.layerNdjson),
            Layer.provide(FetchHttpClient.layer)
          )
        )
      )
    })

  it.scoped("Outbound.layerClient sets the service token as a per-RPC header on every call", () =>
    Effect.gen(function*() {
      const source = TokenSource.fixed("orders", {
        value: Redacted.make(tokenOf("orders")),
        expiresAt: 1e15,
        scope: undefined
      })
      const client = yield* httpClient(Outbound.layerClient("inventory", Outbound.service(source)))
      expect(yield* client.Reserve({ sku: "anvil" })).toEqual({ subject: "orders", tenant: "acme" })
      expect(yield* client.Reserve({ sku: "anvil" })).toEqual({ subject: "orders", tenant: "acme" })
    }))

  it.scoped("a stream over HTTP ends with Unauthenticated (expired) when its token expires", () =>
    Effect.gen(function*() {
      const client = yield* httpClient(Outbound.layerManual)
      const fiber = yield* client.Watch().pipe(
        Stream.take(20),
        Stream.runCollect,
        RpcClient.withHeaders({ authorization: `Bearer ${tokenOf("watcher")}` }),
        Effect.exit,
        Effect.fork
      )
      for (let i = 0; i < 30; i++) {
        yield* TestClock.adjust("1 second")
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
      }
      const exit = yield* Fiber.join(fiber)
      expect(exit).toMatchObject(Exit.fail({ _tag: "Unauthenticated", reason: "expired" }))
    }))
})

describe("Outbound.token: a plain client calling with a token it holds", () => {
  const jwtShaped = (claims: object) =>
    `${Buffer.from("{\"alg\":\"ES256\"}").toString("base64url")}.${
      Buffer.from(JSON.stringify(claims)).toString("base64url")
    }.c2ln`
  const client = (credentials: Outbound.Credentials) =>
    Effect.gen(function*() {
      const server = yield* Layer.build(InventoryServer)
      const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(`${address}/rpc`)).pipe(
        Effect.provide(server)
      )
      return yield* Outbound.make(Inventory, { name: "cli", credentials }).pipe(
        Effect.provide(
          RpcClient.layerProtocolHttp({ url }).pipe(
            Layer.provide(RpcSerialization.layerNdjson),
            Layer.provide(FetchHttpClient.layer)
          )
        )
      )
    })

  it.scoped("sends the token as the bearer credential, outside any request", () =>
    Effect.gen(function*() {
      const inventory = yield* client(Outbound.token(Redacted.make(tokenOf("alice"))))
      expect(yield* inventory.Reserve({ sku: "anvil" })).toEqual({ subject: "alice", tenant: "acme" })
    }))

  it.scoped("reads a JWT's exp (unverified) and fails fast when it expires within the margin", () =>
    Effect.gen(function*() {
      // The clock is at 0: exp 3 is inside the default 5-second margin, exp 60 is not.
      const soon = yield* client(Outbound.token(jwtShaped({ exp: 3 })))
      const error = yield* Effect.flip(soon.Reserve({ sku: "anvil" }))
      expect(error).toMatchObject({ _tag: "Unauthenticated", reason: "expired" })
      expect(error.message).toContain("the token expires within 5s, too soon to send")
      const later = yield* client(Outbound.token(jwtShaped({ exp: 60 }), { margin: "1 second" }))
      // Not in the server's table: refused there, which shows it was sent.
      expect(yield* Effect.flip(later.Reserve({ sku: "anvil" }))).toMatchObject({ reason: "inactive" })
    }))

  it("a token that is not a JWT, or a JWT without a numeric exp, has no known expiry", () => {
    expect(Outbound.token("opaque-token")).toMatchObject({ _tag: "Token", expiresAt: null })
    expect(Outbound.token(jwtShaped({ exp: "soon" }))).toMatchObject({ expiresAt: null })
    expect(Outbound.token(jwtShaped({ exp: 1700000000 }))).toMatchObject({ expiresAt: 1700000000 })
  })
})

describe("Outbound.apiKey", () => {
  it.effect("sends the service's key in x-api-key, never as a bearer token, with no tenant outside a request", () =>
    Effect.gen(function*() {
      const headers = yield* Outbound.headersFor("billing", Outbound.apiKey("wk_key"))
      expect(headers).toEqual({ "x-api-key": "wk_key" })
      const renamed = yield* Outbound.headersFor("billing", Outbound.apiKey("wk_key")).pipe(
        Effect.provide(Credential.layerApiKeyHeader("X-Service-Key"))
      )
      expect(renamed).toEqual({ "x-service-key": "wk_key" })
    }))

  it.effect("a header that cannot carry keys is refused when the layer is built", () =>
    Effect.gen(function*() {
      for (const name of ["authorization", "x-tenant", "bad header", ""]) {
        const exit = yield* Effect.exit(Layer.build(Credential.layerApiKeyHeader(name)).pipe(Effect.scoped))
        expect(exit).toMatchObject({ _tag: "Failure", cause: { _tag: "Fail", error: { _tag: "InvalidHeaderName" } } })
      }
    }))
})

describe("Outbound.exchange", () => {
  const exchanged: Array<string> = []
  const exchanger = {
    name: "orders exchange",
    audience: "https://inventory.test",
    exchange: (subject: Redacted.Redacted<string>) =>
      Effect.sync(() => {
        exchanged.push(Redacted.value(subject))
        return { value: Redacted.make(`exchanged-for-${Redacted.value(subject)}`), expiresAt: 1e15, scope: undefined }
      })
  }
  const inRequest = (token: string, expiresAt: number | null = null) =>
    Effect.provideService(CallerCredentials, {
      credentials: Credential.bearer(token),
      expiresAt,
      tenant: Either.right(Schema.decodeSync(Tenant.TenantId)("globex"))
    })

  it.effect("inside a request, sends the exchanged token with the request's tenant, never the caller's own", () =>
    Effect.gen(function*() {
      const headers = yield* Outbound.headersFor("inventory", Outbound.exchange(exchanger)).pipe(inRequest("tok-user"))
      expect(headers).toEqual({ authorization: "Bearer exchanged-for-tok-user", "x-tenant": "globex" })
      expect(exchanged).toContain("tok-user")
    }))

  it.effect("outside a request, or with a caller token about to expire, fails before anything is sent", () =>
    Effect.gen(function*() {
      const outside = yield* Effect.flip(Outbound.headersFor("inventory", Outbound.exchange(exchanger)))
      expect(outside._tag).toBe("MissingCredentials")
      const expiring = yield* Effect.flip(
        Outbound.headersFor("inventory", Outbound.exchange(exchanger)).pipe(inRequest("tok-short", 2))
      )
      expect(expiring).toMatchObject({ _tag: "Unauthenticated", reason: "expired" })
    }))
})
