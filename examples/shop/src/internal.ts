/**
 * The inventory's internal edge, for services only and over mTLS: `GET
 * /internal/stock/:sku` answers the stock of the tenant the calling service
 * acts for. The caller is authenticated by its client certificate (a SPIFFE
 * ID the table knows), which the TLS socket verified: no token, no key.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { CurrentTenant, CurrentUser, PeerIdentity, Policy } from "@warden/core"
import { Protected } from "@warden/http"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { stockOf } from "./inventory.js"
import type { Stock } from "./inventory.js"

/** The SPIFFE ID in orders' client certificate. */
export const ordersSpiffeId = "spiffe://shop.test/orders"

export const InternalApi = HttpApi.make("inventory-internal").add(
  Protected.group(
    HttpApiGroup.make("internal").add(
      HttpApiEndpoint.get("stock", "/internal/stock/:sku")
        .setPath(Schema.Struct({ sku: Schema.String }))
        .addSuccess(Schema.Struct({ caller: Schema.String, tenant: Schema.String, available: Schema.Number }))
    ),
    { stock: Policy.service("orders") }
  )
)

/** The internal API, reading `Stock`; its callers are the services of the peer table. */
export const InternalLive = HttpApiBuilder.api(InternalApi).pipe(
  Layer.provide(
    HttpApiBuilder.group(
      InternalApi,
      "internal",
      (handlers) =>
        handlers.handle("stock", ({ path }) =>
          Effect.gen(function*() {
            const tenant = yield* CurrentTenant
            return { caller: (yield* CurrentUser).subject, tenant, available: yield* stockOf(tenant, path.sku) }
          }))
    )
  ),
  Layer.provide(Protected.layer(InternalApi, { realm: "inventory-internal" }))
)

/** The services whose certificates the internal edge accepts. */
export const Peers = PeerIdentity.layerAuthenticator({
  [ordersSpiffeId]: { subject: "orders", tenant: "acme", tenants: ["globex"] }
})

export type { Stock }
