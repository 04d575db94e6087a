/** `npm start`: runs the shop scenario and prints it. */
import { NodeRuntime } from "@effect/platform-node"
import { Matrix } from "@warden/core"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import { fileURLToPath } from "node:url"
import { scenario, withTelemetry } from "./scenario.js"
import { inventoryMatrix, userScopes } from "./shop.js"
import * as State from "./state.js"
import * as Telemetry from "./telemetry.js"

const colour = process.stdout.isTTY === true && process.env["NO_COLOR"] === undefined
const paint = (code: string) => (text: string) => colour ? `\u001b[${code}m${text}\u001b[0m` : text
const bold = paint("1")
const green = paint("32")
const red = paint("31")
const dim = paint("2")

const auditDir = fileURLToPath(new URL("../.audit", import.meta.url))

const program = Effect.gen(function*() {
  const state = yield* State.fromConfig
  const report = yield* withTelemetry(scenario(auditDir, { state }))
  yield* Console.log(
    bold("Warden shop: identity, a REST gateway, orders and inventory on loopback, every hop verified")
  )
  yield* Console.log(dim(`identity  ${report.urls.identity}  (OAuth 2.0 token endpoint, JWKS, key rotation)`))
  yield* Console.log(dim(`gateway   ${report.urls.gateway}  (HttpApi: POST /api/orders, GET /api/stock/:sku)`))
  yield* Console.log(dim(`orders    ${report.urls.orders}  (Effect RPC over HTTP)`))
  yield* Console.log(dim(`inventory ${report.urls.inventory}  (Effect RPC over HTTP)`))
  yield* Console.log(
    dim(
      state.kind === "redis" ?
        "shared state on Redis (SHOP_REDIS_URL): revocations, API keys, roles, the grants cache" :
        "shared state in memory (set SHOP_REDIS_URL to keep it on Redis)"
    )
  )
  yield* Console.log("")
  for (const step of report.steps) {
    const mark = step.outcome === "allowed" ? green("ALLOWED") : red("REFUSED")
    yield* Console.log(bold(`${step.n}. ${step.title}`))
    yield* Console.log(`   ${mark}  ${step.reason}`)
    yield* Console.log(`   ${step.detail}`)
    const tree = Telemetry.tree(report.spans, step.traceId)
    for (const line of tree.slice(0, 4)) yield* Console.log(dim(`     ${line}`))
    if (tree.length > 4) yield* Console.log(dim(`     ... ${tree.length - 4} more spans in this trace`))
  }
  yield* Console.log("")
  yield* Console.log(
    `globex anvils before and after the leak attempt: ${report.stock.globexBefore} -> ${report.stock.globexAfter}`
  )
  yield* Console.log(
    `anvils before and after dave's adjustments: acme ${report.adjusted.acme.before} -> ${report.adjusted.acme.after}, ` +
      `globex ${report.adjusted.globex.before} -> ${report.adjusted.globex.after}`
  )
  yield* Console.log("")
  yield* Console.log(
    `GET /api/stock/anvil at the gateway as alice: ${report.restStock.status} ${JSON.stringify(report.restStock.body)}`
  )
  yield* Console.log(
    `GET /api/stock/anvil at the gateway as the reports service, with its API key: ${report.apiKeyStock.status} ${
      JSON.stringify(report.apiKeyStock.body)
    }`
  )
  yield* Console.log(
    `GET /internal/stock/anvil at the inventory over mTLS as orders (its client certificate): ${report.mtls.withCertificate.status} ${
      JSON.stringify(report.mtls.withCertificate.body)
    }; without a certificate: ${report.mtls.without.status}`
  )
  yield* Console.log("")
  yield* Console.log(bold("Authorization matrix of the inventory, tenant acme (what each role alone may call)"))
  yield* Console.log(dim(`   each role's column: a user holding only that role, token scopes ${userScopes.join(" ")}`))
  yield* Console.log(Matrix.toMarkdown(inventoryMatrix("acme")))
  yield* Console.log("")
  yield* Console.log(bold("Audit log for tenant acme (gateway, orders and inventory .audit.jsonl)"))
  const acme = [
    ...report.audit.gateway.map((e) => ["gateway", e] as const),
    ...report.audit.orders.map((e) => ["orders", e] as const),
    ...report.audit.inventory.map((e) => ["inventory", e] as const)
  ].filter(([, e]) => e.tenant === "acme").sort(([, a], [, b]) => a.time.localeCompare(b.time))
  for (const [service, e] of acme.slice(0, 12)) {
    yield* Console.log(
      `   ${e.time}  ${service.padEnd(9)} ${(e.subject ?? "-").padEnd(6)} ${e.procedure.padEnd(20)} ${
        e.decision.padEnd(7)
      } ${e.reason}  trace=${e.traceId?.slice(0, 8) ?? "-"}`
    )
  }
  if (acme.length > 12) yield* Console.log(dim(`   ... ${acme.length - 12} more lines (the burst), in ${auditDir}`))
  yield* Console.log("")
  yield* Console.log(bold("Metrics"))
  const snapshot = yield* Metric.snapshot
  for (const pair of snapshot) {
    const name = pair.metricKey.name
    if (!name.startsWith("warden_") || !MetricState.isCounterState(pair.metricState)) continue
    const tags = pair.metricKey.tags.map((t) => `${t.key}=${t.value}`).join(",")
    yield* Console.log(`   ${name}{${tags}} ${String(pair.metricState.count)}`)
  }
})

program.pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning), NodeRuntime.runMain)
