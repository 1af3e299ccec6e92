/**
 * A database migrated by a newer Berth than this one: running on it could misread rows or undo what the newer
 * version relies on, so the control plane refuses to start and says what to do.
 */
export class SchemaTooNewError extends Error {
  constructor(database: string, found: number, known: number) {
    super(
      `database ${database} has schema version ${found}, newer than this Berth knows (${known}): ` +
        "it was upgraded by a newer Berth; run that version (or newer), or restore a backup made before the upgrade",
    );
    this.name = "SchemaTooNewError";
  }
}
