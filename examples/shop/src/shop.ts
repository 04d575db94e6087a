/**
 * The shop's four services on loopback, wired as the story needs them: the
 * inventory and orders over Effect RPC, the REST gateway in front of them,
 * each trusting the identity service's tokens for its own audience and
 * auditing to its own file. Used by the scenario (free ports) and by
 * `npm run serve` (fixed ports, for curl).
 */
import { ApiKey, Matrix } from "@warden/core"
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
import { Inventory, InventoryGrants, InventoryHandlers, roles, Stock } from "./inventory.js"
import { Orders, OrdersHandlers } from "./orders.js"
import { serve, serveRest, serveTls } from "./services.js"

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

/** Starts the inventory, orders and the gateway; returns their URLs and the stock they share. */
export const start = (identity: Identity, auditDir: string, ports: Ports = {}) =>
  Effect.gen(function*() {
    const auditPath = (service: string) => join(auditDir, `${service}.audit.jsonl`)
    const trust = (audience: string) => ({ issuer: identity.issuer, jwksUrl: identity.jwksUrl, audience })
    const stock = yield* Layer.build(Stock.Default)
    // The reports service calls the gateway with an API key (it has no token endpoint client); the gateway and the
    // inventory behind it accept keys from this store beside the identity service's tokens.
    const keys = yield* Layer.build(ApiKey.layerMemory)
    const reports = yield* ApiKey.issue({
      prefix: "wk_shop",
      kind: "service",
      subject: "reports",
      tenant: "acme",
      scopes: ["stock.read"]
    }).pipe(Effect.orDie)
    yield* Context.get(keys, ApiKey.ApiKeyStore).save(reports.stored).pipe(Effect.orDie)
    const inventory = yield* serve({
      name: "inventory",
      group: Inventory,
      handlers: InventoryHandlers.pipe(Layer.provide(Layer.succeedContext(stock))),
      trust: trust(resources.inventory),
      auditPath: auditPath("inventory"),
      keys,
      grants: InventoryGrants(),
      ...(ports.inventory === undefined ? {} : { port: ports.inventory })
    })
    const orders = yield* serve({
      name: "orders",
      group: Orders,
      handlers: OrdersHandlers(inventory),
      trust: trust(resources.orders),
      auditPath: auditPath("orders"),
      ...(ports.orders === undefined ? {} : { port: ports.orders })
    })
    const gateway = yield* serveRest({
      name: "gateway",
      api: GatewayLive({ orders, inventory }),
      trust: trust(resources.gateway),
      auditPath: auditPath("gateway"),
      keys,
      ...(ports.gateway === undefined ? {} : { port: ports.gateway })
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
      stock,
      reportsKey: reports.key,
      ordersCertificate: { ca: pki.ca, ...pki.client("orders") }
    }
  })
