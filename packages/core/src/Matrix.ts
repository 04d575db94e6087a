/**
 * The authorization matrix: for every procedure of a protected group and
 * every role (and any principal given), whether the policy allows it and
 * why. A security review reads one table instead of the code; a test that
 * pins the table fails when a policy or a role changes.
 *
 * @example
 * ```ts
 * const matrix = Matrix.make(Protected.procedures(Inventory), { roles, tenant: "acme" })
 * console.log(Matrix.toMarkdown(matrix))
 * ```
 *
 * @since 0.3.0
 */
import * as Schema from "effect/Schema"
import * as GrantSource from "./GrantSource.js"
import * as Policy from "./Policy.js"
import * as Principal from "./Principal.js"
import type { Roles } from "./Roles.js"
import type * as Scopes from "./Scopes.js"
import * as Tenant from "./Tenant.js"

/**
 * A procedure and what it requires: a policy, or nothing when it is public.
 *
 * @since 0.3.0
 * @category models
 */
export interface Procedure {
  readonly name: string
  readonly policy: Policy.AnyPolicy | "public"
}

/**
 * Someone the matrix decides for: a role, or a principal with its grants.
 *
 * @since 0.3.0
 * @category models
 */
export interface Column {
  readonly name: string
  readonly principal: Principal.Principal
  readonly tenant: Tenant.TenantId
  readonly grants: Scopes.Grants
}

/**
 * One decision. `allowed` names the grant that matched; `refused` the
 * reason and the missing requirement; `custom` is a policy that is an
 * Effect, decided only at run time.
 *
 * @since 0.3.0
 * @category models
 */
export interface Cell {
  readonly procedure: string
  readonly column: string
  readonly outcome: "allowed" | "refused" | "public" | "custom"
  readonly reason: string
  readonly requirement: string | null
}

/**
 * The whole table, row by row (procedures), each row in column order.
 *
 * @since 0.3.0
 * @category models
 */
export interface Matrix {
  readonly procedures: ReadonlyArray<string>
  readonly columns: ReadonlyArray<string>
  readonly cells: ReadonlyArray<Cell>
}

/**
 * What the matrix is computed for.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options<R extends string> {
  /** One column per role, each alone, as a principal of `tenant` holding only that role. */
  readonly roles?: Roles<R>
  /** The tenant the role columns act for. */
  readonly tenant: string
  /** Scopes the role columns' tokens carry (roles give permissions, tokens give scopes). Default none. */
  readonly scopes?: ReadonlyArray<string>
  /** Further columns: principals with the grants they would have (`GrantSource.fromClaims` when not given). */
  readonly principals?: ReadonlyArray<{
    readonly name: string
    readonly principal: Principal.Principal
    readonly tenant?: string
    readonly grants?: Scopes.Grants
  }>
}

const roleColumns = <R extends string>(options: Options<R>, tenant: Tenant.TenantId): Array<Column> => {
  const roles = options.roles
  if (roles === undefined) return []
  return roles.names.map((name) => {
    const principal = Principal.make({
      subject: `role:${name}`,
      tenant,
      issuer: "warden:matrix",
      scopes: options.scopes ?? []
    })
    return { name, principal, tenant, grants: { scopes: principal.scopes, permissions: roles.compiled([name]) } }
  })
}

const cellOf = (procedure: Procedure, column: Column): Cell => {
  const base = { procedure: procedure.name, column: column.name }
  if (procedure.policy === "public") return { ...base, outcome: "public", reason: "public", requirement: null }
  const decision = Policy.evaluate(procedure.policy, column)
  if (decision === undefined) {
    return { ...base, outcome: "custom", reason: "decided at run time", requirement: null }
  }
  return decision._tag === "Allowed" ?
    { ...base, outcome: "allowed", reason: decision.grant, requirement: null } :
    { ...base, outcome: "refused", reason: decision.reason, requirement: decision.requirement }
}

/**
 * Decides every procedure for every column, without running anything.
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = <R extends string>(procedures: ReadonlyArray<Procedure>, options: Options<R>): Matrix => {
  const tenant = Schema.decodeSync(Tenant.TenantId)(options.tenant)
  const columns: Array<Column> = [
    ...roleColumns(options, tenant),
    ...(options.principals ?? []).map((p) => ({
      name: p.name,
      principal: p.principal,
      tenant: p.tenant === undefined ? p.principal.tenant : Schema.decodeSync(Tenant.TenantId)(p.tenant),
      grants: p.grants ?? GrantSource.fromClaims(p.principal)
    }))
  ]
  return {
    procedures: procedures.map((p) => p.name),
    columns: columns.map((c) => c.name),
    cells: procedures.flatMap((procedure) => columns.map((column) => cellOf(procedure, column)))
  }
}

/**
 * The matrix as JSON, stable for a file under review or a snapshot.
 *
 * @since 0.3.0
 * @category formatting
 */
export const toJson = (matrix: Matrix): string => JSON.stringify(matrix, null, 2)

const text = (cell: Cell): string => {
  switch (cell.outcome) {
    case "allowed":
      return `allowed (${cell.reason})`
    case "refused":
      return `refused: ${cell.reason} ${cell.requirement ?? ""}`.trimEnd()
    case "public":
      return "public"
    case "custom":
      return "custom (decided at run time)"
  }
}

const escape = (s: string): string => s.replaceAll("|", "\\|")

/**
 * The matrix as a Markdown table: a row per procedure, a column per role or principal.
 *
 * @since 0.3.0
 * @category formatting
 */
export const toMarkdown = (matrix: Matrix): string => {
  const width = matrix.columns.length
  const lines = [
    `| procedure | ${matrix.columns.map(escape).join(" | ")} |`,
    `|---|${"---|".repeat(width)}`,
    ...matrix.procedures.map((procedure, i) =>
      `| ${escape(procedure)} | ${
        matrix.cells.slice(i * width, (i + 1) * width).map((cell) => escape(text(cell))).join(" | ")
      } |`
    )
  ]
  return lines.join("\n")
}
