import type { ResourceChange, ResourceRows, ResourceSnapshot, SpecCell } from "./resources";
import { SecretBox } from "./secret-box";

/**
 * The resource rows with the values of secret env variables (those a spec lists in `secretEnvKeys`) encrypted on
 * their way in and decrypted on their way out, on either backend: the rest of the control plane sees plaintext,
 * the database only ciphertext. Endpoint revisions' copies of the endpoint and template specs are sealed too.
 */
export class SealedResourceRows implements ResourceRows {
  constructor(
    private readonly rows: ResourceRows,
    private readonly box: SecretBox,
  ) {}

  async load(): Promise<ResourceSnapshot> {
    const { templates, volumes, endpoints, revisions } = await this.rows.load();
    const open = (spec: string) => mapSecrets(spec, (value) => (SecretBox.isSealed(value) ? this.box.open(value) : value));
    return {
      templates: templates.map((row) => ({ ...row, spec: open(row.spec) })),
      volumes,
      endpoints: endpoints.map((row) => ({ ...row, spec: open(row.spec) })),
      revisions: revisions.map((row) => ({ ...row, spec: open(row.spec), template_spec: open(row.template_spec) })),
    };
  }

  apply(changes: ResourceChange[]): Promise<void> {
    return this.rows.apply(changes.map((change) => this.sealChange(change)));
  }

  /**
   * Encrypts, in place, the secret values that stores written before secrets were encrypted at rest still hold in
   * plaintext; a row changed meanwhile by another control plane is left as it was written. Returns how many specs
   * were sealed.
   */
  async sealPlaintext(): Promise<number> {
    const { templates, endpoints, revisions } = await this.rows.load();
    const cells: Array<{ cell: SpecCell; text: string }> = [
      ...templates.map((row) => ({ cell: { table: "templates", id: row.id, column: "spec" } as const, text: row.spec })),
      ...endpoints.map((row) => ({ cell: { table: "endpoints", id: row.id, column: "spec" } as const, text: row.spec })),
      ...revisions.flatMap((row) =>
        (["spec", "template_spec"] as const).map((column) => ({
          cell: { table: "endpoint_revisions", endpointId: row.endpoint_id, revision: row.revision, column } as const,
          text: row[column],
        })),
      ),
    ];
    const changes: ResourceChange[] = [];
    for (const { cell, text } of cells) {
      let plaintext = false;
      const sealed = mapSecrets(text, (value) => {
        if (SecretBox.isSealed(value)) return value;
        plaintext = true;
        return this.box.seal(value);
      });
      if (plaintext) changes.push({ op: "reseal", cell, from: text, to: sealed });
    }
    if (changes.length > 0) await this.rows.apply(changes);
    return changes.length;
  }

  private sealChange(change: ResourceChange): ResourceChange {
    const seal = (spec: string) => mapSecrets(spec, (value) => this.box.seal(value));
    if (change.op === "put" && change.table !== "network_volumes") return { ...change, row: { ...change.row, spec: seal(change.row.spec) } } as ResourceChange;
    if (change.op === "addRevision") return { ...change, row: { ...change.row, spec: seal(change.row.spec), template_spec: seal(change.row.template_spec) } };
    return change;
  }
}

/** The spec's JSON with `map` applied to the value of every variable its `secretEnvKeys` names. */
function mapSecrets(specJson: string, map: (value: string) => string): string {
  const spec = JSON.parse(specJson) as { env?: Record<string, string>; secretEnvKeys?: string[] };
  const secret = (spec.secretEnvKeys ?? []).filter((key) => typeof spec.env?.[key] === "string");
  if (secret.length === 0) return specJson;
  const env = { ...spec.env };
  for (const key of secret) env[key] = map(env[key]!);
  return JSON.stringify({ ...spec, env });
}
