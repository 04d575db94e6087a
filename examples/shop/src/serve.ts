/**
 * `npm run serve`: the shop's services on fixed loopback ports until Ctrl-C,
 * for trying the REST gateway with curl (the README shows the calls):
 * identity on 4000, the gateway on 4001, orders on 4002, the inventory on
 * 4003. The same wiring as `npm start`'s scenario.
 */
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { makeIdentity } from "./identity.js"
import { start } from "./shop.js"
import * as State from "./state.js"

/** The ports `npm run serve` uses. */
export const ports = { identity: 4000, gateway: 4001, orders: 4002, inventory: 4003 } as const

const auditDir = fileURLToPath(new URL("../.audit", import.meta.url))

/** Starts identity and the three services on `ports`; they stop with the scope. */
export const serveShop = (
  dir: string,
  at: { readonly identity: number; readonly gateway: number; readonly orders: number; readonly inventory: number } =
    ports
) =>
  Effect.gen(function*() {
    mkdirSync(dir, { recursive: true })
    const state = yield* State.fromConfig
    const identity = yield* makeIdentity({ port: at.identity, stores: yield* state.instance })
    const { reportsKey, urls } = yield* start(identity, dir, at, state)
    return { identity: identity.issuer, ...urls, reportsKey }
  })

const program = Effect.gen(function*() {
  const urls = yield* serveShop(auditDir)
  yield* Console.log(`identity  ${urls.identity}/token  (alice's password: wonderland 42)`)
  yield* Console.log(`gateway   ${urls.gateway}/api/orders, ${urls.gateway}/api/stock/:sku`)
  yield* Console.log(`orders    ${urls.orders}, inventory ${urls.inventory}`)
  yield* Console.log(`the reports service's API key (demo): ${Redacted.value(urls.reportsKey)}`)
  yield* Console.log(`audit files in ${auditDir}; Ctrl-C stops.`)
  return yield* Effect.never
}).pipe(Effect.scoped)

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  program.pipe(Logger.withMinimumLogLevel(LogLevel.Warning), NodeRuntime.runMain)
}
