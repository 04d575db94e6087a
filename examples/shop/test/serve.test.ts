/**
 * `npm run serve` and the README's curl calls: the same requests, sent with
 * fetch to the same wiring on free ports, get the answers the README shows.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { ports, serveShop } from "../src/serve.js"

const readme = readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8")

describe("npm run serve, called as the README shows", () => {
  it("the README's calls use the ports npm run serve listens on", () => {
    expect(readme).toContain("npm run serve")
    expect(readme).toContain(`http://127.0.0.1:${ports.identity}/token`)
    expect(readme).toContain(`http://127.0.0.1:${ports.identity}/revoke`)
    expect(readme).toContain(`http://127.0.0.1:${ports.gateway}/api/orders`)
    expect(readme).toContain(`http://127.0.0.1:${ports.gateway}/api/stock/anvil`)
  })

  it.live(
    "a login, an order, a stock read, an anonymous call, a spoofed tenant and a logout answer as the README says",
    () =>
      Effect.gen(function*() {
        const urls = yield* serveShop(mkdtempSync(join(tmpdir(), "warden-serve-")), {
          identity: 0,
          gateway: 0,
          orders: 0,
          inventory: 0
        })
        const call = (url: string, init: RequestInit = {}) =>
          Effect.promise(async () => {
            const res = await fetch(url, init)
            return { status: res.status, headers: res.headers, body: await res.json() as Record<string, unknown> }
          })
        const form = new URLSearchParams({ grant_type: "password", username: "alice", password: "wonderland 42" })
        for (const resource of ["gateway", "orders", "inventory"]) {
          form.append("resource", `https://${resource}.shop.test`)
        }
        const login = yield* call(`${urls.identity}/token`, {
          method: "POST",
          headers: { authorization: `Basic ${Buffer.from("shop-cli:shop-cli-secret").toString("base64")}` },
          body: form
        })
        const token = login.body["access_token"] as string
        expect(token).toMatch(/^eyJ/)
        const auth = { authorization: `Bearer ${token}` }
        const order = yield* call(`${urls.gateway}/api/orders`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ sku: "anvil", quantity: 1 })
        })
        expect(order.status).toBe(200)
        expect(order.body).toMatchObject({
          gateway: { tenant: "acme", user: "alice" },
          order: { orders: { tenant: "acme" }, inventory: { tenant: "acme", remaining: 999 } }
        })
        const stock = yield* call(`${urls.gateway}/api/stock/anvil`, { headers: auth })
        expect(stock.body).toEqual({
          gateway: { tenant: "acme", user: "alice" },
          tenant: "acme",
          sku: "anvil",
          available: 999
        })
        const anonymous = yield* call(`${urls.gateway}/api/stock/anvil`)
        expect([anonymous.status, anonymous.headers.get("www-authenticate")]).toEqual([401, "Bearer realm=\"shop\""])
        const spoofed = yield* call(`${urls.gateway}/api/stock/anvil`, { headers: { ...auth, "x-tenant": "globex" } })
        expect([spoofed.status, spoofed.body["reason"]]).toEqual([403, "tenant_not_signed"])
        const keyed = yield* call(`${urls.gateway}/api/stock/anvil`, {
          headers: { "x-api-key": Redacted.value(urls.reportsKey) }
        })
        expect(keyed.body).toMatchObject({ gateway: { tenant: "acme", user: "reports" }, tenant: "acme" })
        // The logout: the access token itself, revoked at identity, is refused by the gateway from then on.
        const logout = yield* Effect.promise(() =>
          fetch(`${urls.identity}/revoke`, {
            method: "POST",
            headers: { authorization: `Basic ${Buffer.from("shop-cli:shop-cli-secret").toString("base64")}` },
            body: new URLSearchParams({ token })
          })
        )
        expect(logout.status).toBe(200)
        const revoked = yield* call(`${urls.gateway}/api/stock/anvil`, { headers: auth })
        expect([revoked.status, revoked.body["code"], revoked.body["reason"]]).toEqual([
          401,
          "invalid_token",
          "revoked"
        ])
      }).pipe(Effect.scoped),
    30_000
  )
})
