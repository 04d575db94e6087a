/**
 * The tenant travels with every outbound call: Orders and Inventory are two
 * real HTTP servers on loopback, and Orders calls Inventory with each kind of
 * client (`Outbound.make` and `Outbound.layerClient`, forwarding or with a
 * service token). Inventory derives the tenant again from the credentials it
 * receives.
 *
 * Why over HTTP: with the in-memory `RpcTest` protocol a handler runs with its
 * caller's fiber refs, RpcClient's current headers among them, so the
 * caller's `x-tenant` reached the next hop on its own and hid the bug this
 * file tests (a forwarded call acting in the token's own tenant instead of
 * the selected one).
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
import { describe, expect, it } from "@effect/vitest"
import { AuditLog, Authenticator, CurrentTenant, CurrentUser, Policy, Principal } from "@warden/core"
import { TokenSource } from "@warden/oauth"
import { Outbound, Protected } from "@warden/rpc"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { createServer } from "node:http"

const issuer = "https://identity.test"
const people = {
  // A user whose credential signs two tenants; x-tenant selects one.
  dave: Principal.make({ subject: "dave", tenant: "acme", tenants: ["initech"], issuer, scopes: ["orders.write"] }),
  bob: Principal.make({ subject: "bob", tenant: "globex", issuer, scopes: ["orders.write"] }),
  // Orders' own credential: it acts for acme and globex, not initech.
  orders: Principal.make({
    kind: "service",
    subject: "orders",
    clientId: "orders",
    tenant: "acme",
    tenants: ["globex"],
    issuer,
    scopes: ["stock.reserve"]
  })
} as const
const tokenOf = (who: keyof typeof people) => `tok-${who}`
const AuthenticatorLive = Authenticator.layerTest(
  (Object.keys(people) as Array<keyof typeof people>).map((who) => [tokenOf(who), people[who]] as const)
)
const serviceToken = TokenSource.fixed("orders", {
  value: Redacted.make(tokenOf("orders")),
  expiresAt: 1e15,
  scope: undefined
})

const Seen = Schema.Struct({ subject: Schema.String, tenant: Schema.String })
const seen = Effect.all({ subject: Effect.map(CurrentUser, (u) => u.subject), tenant: CurrentTenant })

const Inventory = Protected.group(RpcGroup.make(Rpc.make("Reserve", { success: Seen })), {
  Reserve: Policy.authenticated
})
const InventoryHandlers = Protected.toLayer(Inventory, { Reserve: () => seen })

const Via = Schema.Literal("forward", "service", "plainForward", "plainService")
const Orders = Protected.group(
  RpcGroup.make(
    Rpc.make("PlaceOrder", {
      payload: { via: Via },
      success: Schema.Struct({ orders: Seen, inventory: Seen }),
      error: Schema.String
    })
  ),
  { PlaceOrder: Policy.scope("orders.write") }
)

const protocol = (url: string) =>
  RpcClient.layerProtocolHttp({ url }).pipe(
    Layer.provide(RpcSerialization.layerNdjson),
    Layer.provide(FetchHttpClient.layer)
  )

const OrdersHandlers = (inventoryUrl: string) =>
  Protected.toLayer(
    Orders,
    Effect.gen(function*() {
      const made = (credentials: Outbound.Credentials) =>
        Outbound.make(Inventory, { name: "inventory", credentials }).pipe(Effect.provide(protocol(inventoryUrl)))
      const plain = (credentials: Outbound.Credentials) =>
        RpcClient.make(Inventory).pipe(
          Effect.provide(Outbound.layerClient("inventory", credentials)),
          Effect.provide(protocol(inventoryUrl))
        )
      type Call = () => Effect.Effect<typeof Seen.Type, { readonly _tag: string }>
      const clients: Record<typeof Via.Type, Call> = {
        forward: (yield* made(Outbound.forward())).Reserve,
        service: (yield* made(Outbound.service(serviceToken))).Reserve,
        plainForward: (yield* plain(Outbound.forward())).Reserve,
        plainService: (yield* plain(Outbound.service(serviceToken))).Reserve
      }
      return {
        PlaceOrder: ({ via }) =>
          Effect.all({
            orders: seen,
            inventory: clients[via]().pipe(
              Effect.mapError((e) => "reason" in e ? `${e._tag} ${String(e.reason)}` : e._tag)
            )
          })
      }
    })
  )

/** Serves an RPC group on its own loopback HTTP server; returns its URL. */
const serve = <R extends Rpc.Any>(group: RpcGroup.RpcGroup<R>, handlers: Layer.Layer<Rpc.ToHandler<R>>) =>
  Effect.gen(function*() {
    const server = HttpRouter.Default.serve().pipe(
      Layer.provide(RpcServer.layer(group)),
      Layer.provide(RpcServer.layerProtocolHttp({ path: "/rpc" })),
      Layer.provide(handlers),
      Layer.provide(Protected.layer),
      Layer.provide(AuthenticatorLive),
      Layer.provide(AuditLog.layerMemory),
      Layer.provide(RpcSerialization.layerNdjson),
      Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
    )
    const context = yield* Layer.build(server as unknown as Layer.Layer<HttpServer.HttpServer>)
    return yield* HttpServer.addressFormattedWith((address) => Effect.succeed(`${address}/rpc`)).pipe(
      Effect.provide(context)
    )
  })

const Services = Effect.gen(function*() {
  const inventoryUrl = yield* serve(Inventory, InventoryHandlers)
  const ordersUrl = yield* serve(Orders, OrdersHandlers(inventoryUrl))
  return { inventoryUrl, ordersUrl }
})

const placeOrder = (ordersUrl: string, who: keyof typeof people, via: typeof Via.Type, tenant?: string) =>
  Effect.gen(function*() {
    const orders = yield* RpcClient.make(Orders).pipe(
      Effect.provide(Outbound.layerManual),
      Effect.provide(protocol(ordersUrl))
    )
    return yield* Effect.exit(
      orders.PlaceOrder({ via }).pipe(
        RpcClient.withHeaders({
          authorization: `Bearer ${tokenOf(who)}`,
          ...(tenant === undefined ? {} : { "x-tenant": tenant })
        })
      )
    )
  })

describe("the tenant between hops, over HTTP between two servers", () => {
  for (const via of ["forward", "plainForward"] as const) {
    it.scoped(`${via}: the tenant x-tenant selected at Orders is the one Inventory acts in`, () =>
      Effect.gen(function*() {
        const { ordersUrl } = yield* Services
        expect(yield* placeOrder(ordersUrl, "dave", via, "initech")).toEqual(
          Exit.succeed({
            orders: { subject: "dave", tenant: "initech" },
            inventory: { subject: "dave", tenant: "initech" }
          })
        )
        // Without a selection both hops act in the credential's own tenant.
        expect(yield* placeOrder(ordersUrl, "dave", via)).toEqual(
          Exit.succeed({ orders: { subject: "dave", tenant: "acme" }, inventory: { subject: "dave", tenant: "acme" } })
        )
      }))
  }

  for (const via of ["service", "plainService"] as const) {
    it.scoped(`${via}: a service token acts for the request's tenant when it signs it`, () =>
      Effect.gen(function*() {
        const { ordersUrl } = yield* Services
        expect(yield* placeOrder(ordersUrl, "bob", via)).toEqual(
          Exit.succeed({
            orders: { subject: "bob", tenant: "globex" },
            inventory: { subject: "orders", tenant: "globex" }
          })
        )
      }))
  }

  it.scoped("a service token that does not sign the request's tenant is refused by the next hop", () =>
    Effect.gen(function*() {
      const { ordersUrl } = yield* Services
      expect(yield* placeOrder(ordersUrl, "dave", "service", "initech")).toEqual(
        Exit.fail("Forbidden tenant_not_signed")
      )
    }))

  it.scoped("a plain client's refusal reaches it the same way", () =>
    Effect.gen(function*() {
      const { ordersUrl } = yield* Services
      const exit = yield* placeOrder(ordersUrl, "dave", "plainService", "initech")
      expect(exit).toEqual(Exit.fail("Forbidden tenant_not_signed"))
    }))

  it.scoped("outside any request, a service token acts for its own tenant, or one it signs that a call selects", () =>
    Effect.gen(function*() {
      const { inventoryUrl } = yield* Services
      const inventory = yield* Outbound.make(Inventory, {
        name: "nightly job",
        credentials: Outbound.service(serviceToken)
      }).pipe(Effect.provide(protocol(inventoryUrl)))
      expect(yield* inventory.Reserve()).toEqual({ subject: "orders", tenant: "acme" })
      expect(yield* inventory.Reserve(undefined, { headers: { "x-tenant": "globex" } })).toEqual({
        subject: "orders",
        tenant: "globex"
      })
      const refused = yield* Effect.flip(inventory.Reserve(undefined, { headers: { "x-tenant": "initech" } }))
      expect(refused).toMatchObject({ _tag: "Forbidden", reason: "tenant_not_signed" })
    }))
})
