/**
 * The shop's four services on loopback, wired as the story needs them: the
 * inventory and orders over Effect RPC, the REST gateway in front of them,
 * each trusting the identity service's tokens for its own audience and
 * auditing to its own file. Used by the scenario (free ports) and by
 * `npm run serve` (fixed ports, for curl).
 */
import { ApiKey, Matrix, RoleStore } from "@warden/core"
import { Protected } from "@warden/rpc"
import { TestPki } from "@warden/testing"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { join } from "node:path"
import { GatewayLive } from "./gateway.js"
import type { Identity } from "./identity.js"
import { people, resources } from "./identity.js"
import { InternalLive, ordersSpiffeId, Peers } from "./internal.js"
import { assignments, Inventory, InventoryGrants, InventoryHandlers, roles, Stock } from "./inventory.js"
import { Orders, OrdersHandlers } from "./orders.js"
import { serve, serveRest, serveTls } from "./services.js"
import * as State from "./state.js"

/** Every scope a person's token may carry. */
export const userScopes: ReadonlyArray<string> = [...new Set(Object.values(people).flatMap((p) => p.scope.split(" ")))]

/**
 * The inventory's authorization matrix: every procedure for every role, each
 * role's column a user of `tenant` holding that role alone with a token
 * carrying every user scope. `npm start` prints it; a test pins it.
 */
export const inventoryMatrix = (tenant = "acme"): Matrix.Matrix =>
  Matrix.make(Protected.procedures(Inventory), { roles, tenant, scopes: userScopes })

/** Ports for the three services; each defaults to a free one. */
export interface Ports {
  readonly gateway?: number
  readonly orders?: number
  readonly inventory?: number
}

/**
 * Starts the inventory, orders and the gateway; returns their URLs, the stock
 * they share, and a way to start more inventory instances. What the services
 * share (revocations, API keys, roles) is kept in `state`: memory by default.
 */
export const start = (identity: Identity, auditDir: string, ports: Ports = {}, state?: State.State) =>
  Effect.gen(function*() {
    const auditPath = (service: string) => join(auditDir, `${service}.audit.jsonl`)
    const trust = (audience: string) => ({ issuer: identity.issuer, jwksUrl: identity.jwksUrl, audience })
    const stock = yield* Layer.build(Stock.Default)
    const shared = state ?? (yield* State.memory)
    const inventoryStores = yield* shared.instance
    for (const a of assignments) {
      yield* Context.get(inventoryStores, RoleStore.RoleStore).assign(a.subject, a.tenant, a.roles).pipe(Effect.orDie)
    }
    // The reports service calls the gateway with an API key (it has no token endpoint client); the gateway and the
    // inventory behind it accept keys from the shared store beside the identity service's tokens.
    const keys = inventoryStores
    const reports = yield* ApiKey.issue({
      prefix: "wk_shop",
      kind: "service",
      subject: "reports",
      tenant: "acme",
      scopes: ["stock.read"]
    }).pipe(Effect.orDie)
    yield* Context.get(keys, ApiKey.ApiKeyStore).save(reports.stored).pipe(Effect.orDie)
    const serveInventory = (stores: Context.Context<State.Stores>, port?: number, name = "inventory") =>
      serve({
        name,
        group: Inventory,
        handlers: InventoryHandlers.pipe(Layer.provide(Layer.succeedContext(stock))),
        trust: trust(resources.inventory),
        auditPath: auditPath(name),
        keys: stores,
        revocations: stores,
        grants: InventoryGrants(stores),
        ...(port === undefined ? {} : { port })
      })
    const inventory = yield* serveInventory(inventoryStores, ports.inventory)
    const orders = yield* serve({
      name: "orders",
      group: Orders,
      handlers: OrdersHandlers(inventory, identity.tokenEndpoint),
      trust: trust(resources.orders),
      auditPath: auditPath("orders"),
      revocations: yield* shared.instance,
      ...(ports.orders === undefined ? {} : { port: ports.orders })
    })
    const gatewayStores = yield* shared.instance
    const gateway = yield* serveRest({
      name: "gateway",
      api: GatewayLive({ orders, inventory }),
      trust: trust(resources.gateway),
      auditPath: auditPath("gateway"),
      keys: gatewayStores,
      revocations: gatewayStores,
      ...(ports.gateway === undefined ? {} : { port: ports.gateway })
    })
    let instances = 1
    /** Starts one more inventory instance on the same stock, with stores of its own over the shared state. */
    const startInventory = Effect.gen(function*() {
      const stores = yield* shared.instance
      instances++
      const url = yield* serveInventory(stores, undefined, `inventory-${instances}`)
      return { url, stores }
    })
    // The inventory's internal edge over mTLS, and orders' client certificate for it.
    const pki = yield* TestPki.make({ clients: { orders: { san: `URI:${ordersSpiffeId}` } } })
    const internal = yield* serveTls({
      api: InternalLive.pipe(Layer.provide(Layer.succeedContext(stock))),
      peers: Peers,
      tls: { ca: pki.ca, ...pki.server },
      auditPath: auditPath("inventory-internal")
    })
    return {
      urls: { gateway, orders, inventory, internal },
      state: shared.kind,
      inventoryStores,
      startInventory,
      stock,
      reportsKey: reports.key,
      ordersCertificate: { ca: pki.ca, ...pki.client("orders") }
    }
  })
