import crypto from "node:crypto";
import type { Statement } from "better-sqlite3";
import { ConflictError, InvalidFieldError, NotFoundError } from "../errors";
import type { EndpointSpec, NetworkVolumeSpec, TemplateSpec } from "../resources/schemas";
import type { BerthDatabase } from "./database";

export interface StoredResource<S> {
  id: string;
  spec: S;
  /** ms since the epoch */
  createdAt: number;
  updatedAt: number;
}
export type TemplateRecord = StoredResource<TemplateSpec>;
export type NetworkVolumeRecord = StoredResource<NetworkVolumeSpec>;
export interface EndpointRecord extends StoredResource<EndpointSpec> {
  revision: number;
}
export interface EndpointRevision {
  endpointId: string;
  revision: number;
  /** The endpoint and its template as they were when the revision was made: what its workers run. */
  spec: EndpointSpec;
  templateSpec: TemplateSpec;
  createdAt: number;
}

/**
 * Which fields change what a worker runs or where it may run. A change to any of them gives the endpoint a
 * new revision, and the runtime replaces the old revision's workers (a rolling update). The others are read
 * live from the endpoint by the control plane and take effect without replacing a worker: its name, the
 * scaling numbers (workersMin/Max, idleTimeout, scalerType/Value: scaling is not a rollout), the execution
 * timeout (enforced by the control plane, not by the worker), flashboot (how stopped workers are kept), and
 * which variables are marked secret (the values workers see do not change).
 * Typed as a Record over every spec key so that a new field cannot be added without deciding.
 */
const ENDPOINT_FIELD_ROLLS_OUT: Record<keyof EndpointSpec, boolean> = {
  name: false,
  templateId: true,
  gpuTypeIds: true,
  gpuCount: true,
  workersMin: false,
  workersMax: false,
  idleTimeout: false,
  scalerType: false,
  scalerValue: false,
  executionTimeoutMs: false,
  flashboot: false,
  networkVolumeId: true,
  dataCenterIds: true,
  env: true,
  secretEnvKeys: false,
};

/** A template's name and readme are for people; everything else is part of the worker's container. */
const TEMPLATE_FIELD_ROLLS_OUT: Record<keyof TemplateSpec, boolean> = {
  name: false,
  readme: false,
  imageName: true,
  startCommand: true,
  env: true,
  secretEnvKeys: false,
  containerDiskInGb: true,
  volumeMountPath: true,
  ports: true,
  memoryInGb: true,
};

const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
const ID_LENGTH = 12;

/** RunPod-like ids: 12 lowercase letters and digits, URL-safe and short enough to read out. */
function newResourceId(): string {
  return Array.from({ length: ID_LENGTH }, () => ID_ALPHABET[crypto.randomInt(ID_ALPHABET.length)]).join("");
}

interface ResourceRow {
  id: string;
  name: string;
  spec: string;
  created_at: number;
  updated_at: number;
}
interface EndpointRow extends ResourceRow {
  revision: number;
}
interface RevisionRow {
  endpoint_id: string;
  revision: number;
  spec: string;
  template_spec: string;
  created_at: number;
}

/**
 * Templates, endpoints (with their revisions) and network volumes, each kept as its validated spec in JSON.
 * Specs arrive already validated by the schemas in server/resources/schemas.ts; this store enforces the rules
 * that need stored state (references exist, volumes only grow, nothing in use is deleted) and decides
 * revisions. Every check and its write happen in one synchronous call, so no other request interleaves.
 * Callers replying to an HTTP write await `database.durable()` first.
 */
export class ResourceStore {
  private readonly s: Record<string, Statement>;

  constructor(private readonly database: BerthDatabase) {
    const db = database.db;
    this.s = {
      templateById: db.prepare("SELECT * FROM templates WHERE id = ?"),
      templates: db.prepare("SELECT * FROM templates ORDER BY created_at, id"),
      insertTemplate: db.prepare(
        "INSERT INTO templates (id, name, spec, created_at, updated_at) VALUES (@id, @name, @spec, @createdAt, @updatedAt)",
      ),
      updateTemplate: db.prepare("UPDATE templates SET name = @name, spec = @spec, updated_at = @updatedAt WHERE id = @id"),
      deleteTemplate: db.prepare("DELETE FROM templates WHERE id = ?"),

      volumeById: db.prepare("SELECT * FROM network_volumes WHERE id = ?"),
      volumes: db.prepare("SELECT * FROM network_volumes ORDER BY created_at, id"),
      insertVolume: db.prepare(
        "INSERT INTO network_volumes (id, name, spec, created_at, updated_at) VALUES (@id, @name, @spec, @createdAt, @updatedAt)",
      ),
      updateVolume: db.prepare("UPDATE network_volumes SET name = @name, spec = @spec, updated_at = @updatedAt WHERE id = @id"),
      deleteVolume: db.prepare("DELETE FROM network_volumes WHERE id = ?"),

      endpointExists: db.prepare("SELECT 1 FROM endpoints WHERE id = ?").pluck(),
      endpointById: db.prepare("SELECT * FROM endpoints WHERE id = ?"),
      endpoints: db.prepare("SELECT * FROM endpoints ORDER BY created_at, id"),
      endpointsOfTemplate: db.prepare("SELECT * FROM endpoints WHERE json_extract(spec, '$.templateId') = ? ORDER BY created_at, id"),
      endpointsOfVolume: db.prepare("SELECT * FROM endpoints WHERE json_extract(spec, '$.networkVolumeId') = ? ORDER BY created_at, id"),
      insertEndpoint: db.prepare(`INSERT INTO endpoints (id, name, spec, revision, created_at, updated_at)
        VALUES (@id, @name, @spec, @revision, @createdAt, @updatedAt)`),
      updateEndpoint: db.prepare(
        "UPDATE endpoints SET name = @name, spec = @spec, revision = @revision, updated_at = @updatedAt WHERE id = @id",
      ),
      deleteEndpoint: db.prepare("DELETE FROM endpoints WHERE id = ?"),

      insertRevision: db.prepare(`INSERT INTO endpoint_revisions (endpoint_id, revision, spec, template_spec, created_at)
        VALUES (@endpointId, @revision, @spec, @templateSpec, @createdAt)`),
      revisions: db.prepare("SELECT * FROM endpoint_revisions WHERE endpoint_id = ? ORDER BY revision"),
      revision: db.prepare("SELECT * FROM endpoint_revisions WHERE endpoint_id = ? AND revision = ?"),
    };
  }

  /** Resolves once every write so far is on disk: await it before answering an HTTP write. */
  durable(): Promise<void> {
    return this.database.durable();
  }

  // --- templates ------------------------------------------------------------------------------------------

  getTemplate(id: string): TemplateRecord | undefined {
    const row = this.s.templateById!.get(id) as ResourceRow | undefined;
    return row && toRecord<TemplateSpec>(row);
  }

  listTemplates(): TemplateRecord[] {
    return (this.s.templates!.all() as ResourceRow[]).map((row) => toRecord<TemplateSpec>(row));
  }

  createTemplate(spec: TemplateSpec): TemplateRecord {
    const now = Date.now();
    const record = { id: newResourceId(), spec, createdAt: now, updatedAt: now };
    this.atomically(() => this.s.insertTemplate!.run(resourceParams(record)));
    return record;
  }

  /**
   * Replaces a template's spec. When a field that workers run changed, every endpoint using the template
   * gets a new revision; those endpoints are returned as `rolledOut` (empty otherwise).
   */
  updateTemplate(id: string, spec: TemplateSpec): { template: TemplateRecord; rolledOut: EndpointRecord[] } {
    const current = this.requireTemplate(id);
    const template = { ...current, spec, updatedAt: Date.now() };
    const rollsOut = rollsOutChange(current.spec, spec, TEMPLATE_FIELD_ROLLS_OUT);
    return this.atomically(() => {
      this.s.updateTemplate!.run(resourceParams(template));
      const rolledOut = rollsOut
        ? this.endpointsUsingTemplate(id).map((endpoint) => this.saveEndpoint(endpoint, endpoint.spec, spec, true, template.updatedAt))
        : [];
      return { template, rolledOut };
    });
  }

  /** Refused (a conflict) while an endpoint uses the template, naming those endpoints. */
  deleteTemplate(id: string): void {
    this.requireTemplate(id);
    const users = this.endpointsUsingTemplate(id);
    if (users.length > 0) {
      throw new ConflictError("in_use", `template ${id} is used by endpoint(s) ${describe(users)}: change or delete them first`, {
        endpoints: users.map((e) => e.id),
      });
    }
    this.atomically(() => this.s.deleteTemplate!.run(id));
  }

  endpointsUsingTemplate(templateId: string): EndpointRecord[] {
    return (this.s.endpointsOfTemplate!.all(templateId) as EndpointRow[]).map(toEndpointRecord);
  }

  // --- network volumes ------------------------------------------------------------------------------------

  getVolume(id: string): NetworkVolumeRecord | undefined {
    const row = this.s.volumeById!.get(id) as ResourceRow | undefined;
    return row && toRecord<NetworkVolumeSpec>(row);
  }

  listVolumes(): NetworkVolumeRecord[] {
    return (this.s.volumes!.all() as ResourceRow[]).map((row) => toRecord<NetworkVolumeSpec>(row));
  }

  createVolume(spec: NetworkVolumeSpec): NetworkVolumeRecord {
    const now = Date.now();
    const record = { id: newResourceId(), spec, createdAt: now, updatedAt: now };
    this.atomically(() => this.s.insertVolume!.run(resourceParams(record)));
    return record;
  }

  /** A volume may grow but never shrink, and never move to another data centre (RunPod's rules). */
  updateVolume(id: string, spec: NetworkVolumeSpec): NetworkVolumeRecord {
    const current = this.requireVolume(id);
    if (spec.size < current.spec.size) {
      throw new InvalidFieldError("size", `a network volume can only grow: ${spec.size} GB is less than its current ${current.spec.size} GB`);
    }
    if (spec.dataCenterId !== current.spec.dataCenterId) {
      throw new InvalidFieldError(
        "dataCenterId",
        `is immutable: the volume lives in ${current.spec.dataCenterId}; create a new volume to use ${spec.dataCenterId}`,
      );
    }
    const record = { ...current, spec, updatedAt: Date.now() };
    this.atomically(() => this.s.updateVolume!.run(resourceParams(record)));
    return record;
  }

  /** Refused (a conflict) while an endpoint mounts the volume, naming those endpoints. */
  deleteVolume(id: string): void {
    this.requireVolume(id);
    const users = this.endpointsUsingVolume(id);
    if (users.length > 0) {
      throw new ConflictError("in_use", `network volume ${id} is attached to endpoint(s) ${describe(users)}: detach or delete them first`, {
        endpoints: users.map((e) => e.id),
      });
    }
    this.atomically(() => this.s.deleteVolume!.run(id));
  }

  endpointsUsingVolume(volumeId: string): EndpointRecord[] {
    return (this.s.endpointsOfVolume!.all(volumeId) as EndpointRow[]).map(toEndpointRecord);
  }

  // --- endpoints ------------------------------------------------------------------------------------------

  /** Cheap enough for every client and worker API call. */
  endpointExists(id: string): boolean {
    return this.s.endpointExists!.get(id) !== undefined;
  }

  getEndpoint(id: string): EndpointRecord | undefined {
    const row = this.s.endpointById!.get(id) as EndpointRow | undefined;
    return row && toEndpointRecord(row);
  }

  listEndpoints(): EndpointRecord[] {
    return (this.s.endpoints!.all() as EndpointRow[]).map(toEndpointRecord);
  }

  /** Creates the endpoint at revision 1. Its template and network volume must exist (an invalid field otherwise). */
  createEndpoint(spec: EndpointSpec): EndpointRecord {
    const template = this.checkReferences(spec);
    const now = Date.now();
    const endpoint: EndpointRecord = { id: newResourceId(), spec, revision: 1, createdAt: now, updatedAt: now };
    this.atomically(() => {
      this.s.insertEndpoint!.run({ ...resourceParams(endpoint), revision: endpoint.revision });
      this.recordRevision(endpoint, template.spec, now);
    });
    return endpoint;
  }

  /** Replaces the endpoint's spec; the revision increments when a field in ENDPOINT_FIELD_ROLLS_OUT changed. */
  updateEndpoint(id: string, spec: EndpointSpec): EndpointRecord {
    const current = this.requireEndpoint(id);
    const template = this.checkReferences(spec);
    const rollsOut = rollsOutChange(current.spec, spec, ENDPOINT_FIELD_ROLLS_OUT);
    return this.atomically(() => this.saveEndpoint(current, spec, template.spec, rollsOut, Date.now()));
  }

  /** Deletes the endpoint and its revisions. */
  deleteEndpoint(id: string): void {
    this.requireEndpoint(id);
    this.atomically(() => this.s.deleteEndpoint!.run(id));
  }

  /** Every revision of an endpoint, oldest first; undefined when the endpoint does not exist. */
  revisions(endpointId: string): EndpointRevision[] | undefined {
    if (!this.endpointExists(endpointId)) return undefined;
    return (this.s.revisions!.all(endpointId) as RevisionRow[]).map(toRevision);
  }

  /** What the endpoint's workers should be running now. */
  currentRevision(endpointId: string): EndpointRevision | undefined {
    const endpoint = this.getEndpoint(endpointId);
    const row = endpoint && (this.s.revision!.get(endpointId, endpoint.revision) as RevisionRow | undefined);
    return row && toRevision(row);
  }

  // --- internals ------------------------------------------------------------------------------------------

  /**
   * Runs `fn` in the group transaction (committed with the turn's other writes), inside a savepoint so that a
   * write of several statements (an endpoint and its revision) lands whole or not at all.
   */
  private atomically<T>(fn: () => T): T {
    return this.database.write(() => this.database.db.transaction(fn)());
  }

  /** The endpoint's template must exist; so must its volume, in one of its data centres. Returns the template. */
  private checkReferences(spec: EndpointSpec): TemplateRecord {
    const template = this.getTemplate(spec.templateId);
    if (!template) throw new InvalidFieldError("templateId", `template ${spec.templateId} does not exist`);
    if (spec.networkVolumeId !== undefined) {
      const volume = this.getVolume(spec.networkVolumeId);
      if (!volume) throw new InvalidFieldError("networkVolumeId", `network volume ${spec.networkVolumeId} does not exist`);
      if (spec.dataCenterIds && !spec.dataCenterIds.includes(volume.spec.dataCenterId)) {
        throw new InvalidFieldError(
          "dataCenterIds",
          `must include ${volume.spec.dataCenterId}, the data centre of network volume ${volume.id}: workers can only mount it there`,
        );
      }
    }
    return template;
  }

  /** Writes the endpoint's new spec; with `newRevision`, bumps the revision and records what it runs. */
  private saveEndpoint(
    current: EndpointRecord,
    spec: EndpointSpec,
    templateSpec: TemplateSpec,
    newRevision: boolean,
    now: number,
  ): EndpointRecord {
    const endpoint: EndpointRecord = { ...current, spec, revision: current.revision + (newRevision ? 1 : 0), updatedAt: now };
    this.s.updateEndpoint!.run({ ...resourceParams(endpoint), revision: endpoint.revision });
    if (newRevision) this.recordRevision(endpoint, templateSpec, now);
    return endpoint;
  }

  private recordRevision(endpoint: EndpointRecord, templateSpec: TemplateSpec, now: number): void {
    this.s.insertRevision!.run({
      endpointId: endpoint.id,
      revision: endpoint.revision,
      spec: JSON.stringify(endpoint.spec),
      templateSpec: JSON.stringify(templateSpec),
      createdAt: now,
    });
  }

  private requireTemplate(id: string): TemplateRecord {
    const template = this.getTemplate(id);
    if (!template) throw new NotFoundError("not_found", `template ${id} does not exist`);
    return template;
  }

  private requireVolume(id: string): NetworkVolumeRecord {
    const volume = this.getVolume(id);
    if (!volume) throw new NotFoundError("not_found", `network volume ${id} does not exist`);
    return volume;
  }

  private requireEndpoint(id: string): EndpointRecord {
    const endpoint = this.getEndpoint(id);
    if (!endpoint) throw new NotFoundError("not_found", `endpoint ${id} does not exist`);
    return endpoint;
  }
}

/** Whether a field marked in `rollsOut` differs, compared as canonical JSON (the order of env keys does not count). */
function rollsOutChange<S extends object>(before: S, after: S, rollsOut: Record<keyof S, boolean>): boolean {
  return (Object.keys(rollsOut) as Array<keyof S>).some(
    (key) => rollsOut[key] && canonicalJson(before[key]) !== canonicalJson(after[key]),
  );
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  ) ?? "undefined";
}

function describe(endpoints: EndpointRecord[]): string {
  return endpoints.map((e) => `${e.id} (${e.spec.name})`).join(", ");
}

function resourceParams<S extends { name: string }>(record: StoredResource<S>) {
  return { id: record.id, name: record.spec.name, spec: JSON.stringify(record.spec), createdAt: record.createdAt, updatedAt: record.updatedAt };
}

function toRecord<S>(row: ResourceRow): StoredResource<S> {
  return { id: row.id, spec: JSON.parse(row.spec) as S, createdAt: row.created_at, updatedAt: row.updated_at };
}

function toEndpointRecord(row: EndpointRow): EndpointRecord {
  return { ...toRecord<EndpointSpec>(row), revision: row.revision };
}

function toRevision(row: RevisionRow): EndpointRevision {
  return {
    endpointId: row.endpoint_id,
    revision: row.revision,
    spec: JSON.parse(row.spec) as EndpointSpec,
    templateSpec: JSON.parse(row.template_spec) as TemplateSpec,
    createdAt: row.created_at,
  };
}
