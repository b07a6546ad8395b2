import { randomUUID } from "node:crypto";
import { accessSync, chmodSync, closeSync, constants, existsSync, fsyncSync, openSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { issueAdminToken } from "../admin/index.ts";
import { CHECKPOINT_KEY_PURPOSE, cliActor, recordAdminChange, resignCheckpoints } from "../audit/index.ts";
import { dataPaths, type Settings } from "../config/index.ts";
import { configError, type MintgateError } from "../errors/index.ts";
import { log } from "../log/index.ts";
import { counted, joinedWithAnd, shellWord } from "../terminal/index.ts";
import {
  generateMasterKey,
  hashToken,
  keyMatches,
  parseMasterKey,
  readMasterKeyFile,
  SecretStore,
  writeMasterKeyFile,
  promoteMasterKeyFile,
  type MasterKey,
} from "../secrets/index.ts";
import { inspectStore, openStore, snapshotDatabase, type Store } from "../store/index.ts";
import { lockDataDir } from "./data-dir-lock.ts";

export { IdleMemoryTrim } from "./memory-trim.ts";
export { ignoredAtStart } from "./signals.ts";

/**
 * Opening a data directory: the master key, the database and the secret
 * store, checked in an order that never writes to a database whose key or
 * schema version is wrong.
 */
export interface DataDir {
  dataDir: string;
  paths: ReturnType<typeof dataPaths>;
  store: Store;
  secrets: SecretStore;
  masterKey: MasterKey;
  /** What this open created, for `init` to report ("data directory", "master key", …). */
  created: string[];
  /** Sentences for the admin about the directory itself (its mode), for `init` and `serve` to print. */
  warnings: string[];
  /** The admin token, only when this open created it. */
  newAdminToken: string | undefined;
  close(): void;
}

const ENV_KEY_SOURCE = "MINTGATE_MASTER_KEY";

function loadMasterKey(settings: Settings, paths: ReturnType<typeof dataPaths>): MasterKey | undefined {
  if (settings.masterKeyFromEnv !== undefined) {
    return parseMasterKey(new TextEncoder().encode(settings.masterKeyFromEnv), ENV_KEY_SOURCE);
  }
  return readMasterKeyFile(paths.masterKey);
}

/**
 * Opens the data directory. With `initialise`, creates whatever is missing
 * (directory, key, database, admin token); without it, all must exist.
 * With `serving`, holds the directory's lock until close(), before anything
 * is written: a second gateway on the same directory is refused.
 */
/** The sentence for a data directory `init` never made (its directory, or its database, is missing). */
function notInitialised(dataDir: string, missing: "directory" | "database"): MintgateError {
  const what = missing === "directory" ? `The data directory ${dataDir} does not exist` : `There is no database in ${dataDir}`;
  return configError(`${what}; run \`mintgate init --data ${shellWord(dataDir)}\` first.`);
}

/** Refuses a data directory path that names a file: `init --data` there, which the other sentences suggest, would fail the same way. */
function refuseNonDirectory(dataDir: string): void {
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory()) throw configError(`${dataDir} is a file, not a directory; point --data at a directory.`);
}

/**
 * Refuses a data directory this user cannot use, in one sentence that says whose it is: one another user
 * made (root, before the service user existed), or a file in it another user left behind (a `serve` run
 * once as root leaves serve.lock as root's). SQLite said only "unable to open database file" (an internal
 * error), and a directory this user cannot enter looked empty ("run init").
 */
function refuseUnusable(settings: Settings, paths: ReturnType<typeof dataPaths>): void {
  const { R_OK, W_OK, X_OK } = constants;
  const denied = (path: string, mode: number): NodeJS.ErrnoException | undefined => {
    try {
      accessSync(path, mode);
      return undefined;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "ENOENT" ? undefined : (error as NodeJS.ErrnoException);
    }
  };
  const dataDir = settings.dataDir;
  const refusal = denied(dataDir, R_OK | W_OK | X_OK);
  if (refusal?.code === "EROFS") throw configError(`The data directory ${dataDir} is on a read-only file system; choose a --data directory on a writable one.`);
  const readWrite = [paths.database, `${paths.database}-wal`, `${paths.database}-shm`, paths.serveLock, `${paths.serveLock}-journal`, paths.serverUrl];
  const readOnly = [...(settings.masterKeyFromEnv === undefined ? [paths.masterKey] : []), paths.masterKeyNew];
  if (!refusal) refuseMisplaced(settings.dataDir, [...readWrite, ...readOnly, paths.adminToken], [paths.upstreamGroups]);
  const files = refusal
    ? []
    : [...readWrite.filter((file) => denied(file, R_OK | W_OK)), ...readOnly.filter((file) => denied(file, R_OK))];
  if (!refusal && files.length === 0) return;
  const uid = process.getuid?.();
  const first = statSync(files[0] ?? dataDir);
  const what = refusal ? `The data directory ${dataDir}` : `${files.join(", ")} in the data directory ${dataDir}`;
  if (first.uid === uid) {
    const mode = (first.mode & 0o777).toString(8).padStart(4, "0");
    throw configError(`${what} cannot be read and written by this user, its owner (mode ${mode}); \`chmod -R u+rwX ${dataDir}\` gives it back.`);
  }
  throw configError(
    `${what} belong${files.length === 1 || refusal ? "s" : ""} to uid ${first.uid}, and this user (uid ${uid}) may not ${refusal ? "read and write it" : `use ${files.length > 1 ? "them" : "it"}`}; run mintgate as the user that owns the data directory (systemd's User=, or \`sudo -u\`), or give it to this user (\`chown -R ${uid} ${dataDir}\`).`,
  );
}

/**
 * Refuses a directory where the data directory keeps a file (a `mkdir` by hand, an archive unpacked over it), or a
 * file where it keeps a directory. SQLite, the key reader and the write of server.url failed with an internal error
 * and a stack trace, the last only once the gateway had started its upstreams; an admin.token directory left the
 * CLI and TUI without a token.
 */
function refuseMisplaced(dataDir: string, files: string[], directories: string[]): void {
  const kindOf = (path: string) => {
    try {
      const stat = statSync(path);
      return stat.isDirectory() ? "a directory" : stat.isFile() ? "a file" : "neither a file nor a directory";
    } catch {
      return undefined;
    }
  };
  for (const file of files) {
    const kind = kindOf(file);
    if (kind !== undefined && kind !== "a file") throw configError(`${file} in the data directory ${dataDir} is ${kind}, where mintgate keeps a file; move it out of the data directory and start again.`);
  }
  for (const directory of directories) {
    const kind = kindOf(directory);
    if (kind !== undefined && kind !== "a directory") throw configError(`${directory} in the data directory ${dataDir} is ${kind}, where mintgate keeps a directory; move it out of the data directory and start again.`);
  }
}

/** Throws what opening the data directory would, for commands that ask for a value before they open it. */
export function checkInitialised(settings: Settings): void {
  refuseNonDirectory(settings.dataDir);
  if (existsSync(settings.dataDir)) refuseUnusable(settings, dataPaths(settings.dataDir));
  if (!existsSync(settings.dataDir)) throw notInitialised(settings.dataDir, "directory");
  if (!existsSync(dataPaths(settings.dataDir).database)) throw notInitialised(settings.dataDir, "database");
}

export function openDataDir(settings: Settings, options: { initialise: boolean; serving?: boolean }): DataDir {
  const paths = dataPaths(settings.dataDir);
  const created: string[] = [];
  // A malformed key for a new directory is refused before anything is created: init must not leave an empty directory behind.
  if (settings.masterKeyFromEnv !== undefined && !existsSync(paths.database)) {
    parseMasterKey(new TextEncoder().encode(settings.masterKeyFromEnv), ENV_KEY_SOURCE, `set it to a new key (\`openssl rand -hex 32\`), or unset it to have one generated in ${paths.masterKey}`);
  }

  refuseNonDirectory(settings.dataDir);
  if (!existsSync(settings.dataDir)) {
    if (!options.initialise) throw notInitialised(settings.dataDir, "directory");
    try {
      mkdirSync(settings.dataDir, { recursive: true, mode: 0o700 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw configError(`Cannot create the data directory ${settings.dataDir} (${code ?? (error as Error).message}); choose a --data directory this user may create, or create it first.`, error);
    }
    created.push(`data directory ${settings.dataDir}`);
  }
  refuseUnusable(settings, paths);
  const warnings: string[] = [];
  const envKey = settings.masterKeyFromEnv?.trim();
  if (envKey !== undefined && !/^[0-9a-fA-F]{64}$/.test(envKey) && !/^[A-Za-z0-9+/_-]{43}=?$/.test(envKey)) {
    // Taken as the key's raw bytes (32 characters), as before: refusing it would lock out what it already encrypts.
    warnings.push(
      `${ENV_KEY_SOURCE} is not 64 hex characters or base64 but text used as the key's raw bytes, which may hold far fewer than 256 random bits (a passphrase, or half of \`openssl rand -hex 32\`); \`mintgate secrets rotate-key\` makes a full-strength key and moves the secrets to it.`,
    );
  }
  // Created here it is 0700; one made beforehand keeps its mode, and other users could then list it.
  const mode = statSync(settings.dataDir).mode & 0o777;
  if (options.initialise && (mode & 0o077) !== 0) {
    warnings.push(`The data directory ${settings.dataDir} is open to other users (mode ${mode.toString(8).padStart(4, "0")}); \`chmod 700 ${settings.dataDir}\` keeps it to this user.`);
  }
  // Whoever reads master.key can decrypt every secret, and whoever reads admin.token is an admin of the gateway.
  const keyMode = existsSync(paths.masterKey) ? statSync(paths.masterKey).mode & 0o777 : 0;
  if (options.initialise && (keyMode & 0o077) !== 0) {
    warnings.push(`The master key file ${paths.masterKey} can be read by other users (mode ${keyMode.toString(8).padStart(4, "0")}), and it decrypts every secret; \`chmod 600 ${paths.masterKey}\` keeps it to this user.`);
  }
  const tokenMode = existsSync(paths.adminToken) ? statSync(paths.adminToken).mode & 0o777 : 0;
  if (options.initialise && (tokenMode & 0o077) !== 0) {
    warnings.push(`The admin token file ${paths.adminToken} can be read by other users (mode ${tokenMode.toString(8).padStart(4, "0")}), and it gives full admin access; \`chmod 600 ${paths.adminToken}\` keeps it to this user.`);
  }

  const lock = options.serving
    ? lockDataDir(settings.dataDir, (holder) => `A gateway is already serving from ${holder}; stop it first (SIGTERM), or give this one another --data directory.`)
    : undefined;
  try {
    const dir = openContents(settings, options, paths, created);
    return {
      ...dir,
      warnings,
      close: () => {
        dir.close();
        lock?.release();
      },
    };
  } catch (error) {
    lock?.release();
    throw error;
  }
}

/** The key, database and admin token of a directory that exists. */
function openContents(settings: Settings, options: { initialise: boolean }, paths: ReturnType<typeof dataPaths>, created: string[]): Omit<DataDir, "warnings"> {
  const databaseExists = existsSync(paths.database);
  // A restore stopped between moving the database aside and putting the copy in its place: a new empty database here would hide both.
  if (!databaseExists && existsSync(restoringPath(paths))) {
    throw configError(
      `A restore into ${settings.dataDir} was interrupted: the checked copy is ${restoringPath(paths)} and the previous database was moved to ${paths.database}.before-restore-<time>; rename the one you want to ${paths.database} and start again.`,
    );
  }
  if (!databaseExists && !options.initialise) throw notInitialised(settings.dataDir, "database");

  // Read-only checks first: a wrong key or a newer schema must leave the file untouched.
  const inspection = databaseExists ? inspectStore(paths.database, { inPlace: true }) : undefined;
  if (inspection?.schemaVersion === 0) refuseUnsetUpDatabase(paths, inspection.empty);
  let key = loadMasterKey(settings, paths);
  if (inspection?.currentKey) {
    if (!key || !keyMatches(key, inspection.currentKey)) {
      key = recoverInterruptedRotation(key, inspection.currentKey, inspection.secretNames, paths);
    }
  } else if (!key) {
    key = generateMasterKey(paths.masterKey);
    writeMasterKeyFile(paths.masterKey, key);
    created.push(`master key ${paths.masterKey}`);
  }

  const store = openStore(paths.database, { create: options.initialise });
  if (!databaseExists) created.push(`database ${paths.database}`);
  try {
    const secrets = SecretStore.register(store, key, { reloadKey: () => reloadMasterKey(settings, paths, store) });
    let newAdminToken: string | undefined;
    // A lost admin.token is replaced, and the lost one stops working: whoever can
    // write the data dir is already an admin, but a copy of the old token may be anywhere.
    if (options.initialise && (store.adminTokens.count() === 0 || !existsSync(paths.adminToken))) {
      store.adminTokens.deleteAll();
      newAdminToken = issueAdminToken(store, "local admin");
      writeFileSync(paths.adminToken, newAdminToken + "\n", { mode: 0o600 });
      created.push(`admin token ${paths.adminToken}`);
    }
    return {
      dataDir: settings.dataDir,
      paths,
      store,
      secrets,
      masterKey: key,
      created,
      newAdminToken,
      close: () => store.close(),
    };
  } catch (error) {
    store.close();
    throw error;
  }
}

/**
 * Refuses a database file that holds no mintgate schema where migrating it would hide a loss: SQLite takes an empty
 * file for a new database, so one emptied (`cp` onto a full disk, `> mintgate.db`) in a directory that was in use
 * started an empty gateway over it, and replaced the admin token; another program's file got mintgate's tables beside
 * its own, and a copy that lost its version (a .dump) would have its migrations run again over its tables. An empty file in a directory without admin.token is what an `init` stopped before its first commit leaves.
 */
function refuseUnsetUpDatabase(paths: ReturnType<typeof dataPaths>, empty: boolean): void {
  if (!empty) {
    throw configError(`${paths.database} is an SQLite database without mintgate's schema version (another program's, or a copy made with the sqlite3 shell's .dump); point --data at mintgate's data directory, or put a copy \`mintgate backup\` made in its place with \`mintgate restore FILE\`.`);
  }
  if (existsSync(paths.adminToken)) {
    throw configError(
      `${paths.database} is empty, though this data directory was set up before (its admin.token is there), so its configuration, people and audit trail are gone; put the latest backup in its place with \`mintgate restore FILE\`, or delete ${paths.database} to start an empty gateway.`,
    );
  }
}

/**
 * The master key again, for a process that sees another one rotated it. A rotate-key stopped between its
 * commit and the key swap (killed, or just not there yet) leaves the new key in master.key.new: a running
 * gateway uses it from there, read-only (the next command or start finishes the swap), where it failed every
 * secret until restarted.
 */
function reloadMasterKey(settings: Settings, paths: ReturnType<typeof dataPaths>, store: Store): MasterKey | undefined {
  const key = loadMasterKey(settings, paths);
  const current = store.secrets.currentKeyVersion();
  if (!current || key?.source === ENV_KEY_SOURCE || (key && keyMatches(key, current))) return key;
  const pending = readMasterKeyFile(paths.masterKeyNew);
  return pending && keyMatches(pending, current) ? pending : key;
}

/**
 * `rotate-key` commits the new key to the database before it swaps the key
 * files (master.key to master.key.old, then master.key.new to master.key). If
 * it stopped in between, master.key.new is the right key: finish the swap,
 * also when master.key was already moved aside.
 */
function recoverInterruptedRotation(
  key: MasterKey | undefined,
  current: NonNullable<ReturnType<typeof inspectStore>["currentKey"]>,
  secretNames: string[],
  paths: ReturnType<typeof dataPaths>,
): MasterKey {
  const pending = readMasterKeyFile(paths.masterKeyNew);
  if (pending && keyMatches(pending, current)) {
    if (key?.source === ENV_KEY_SOURCE) {
      throw configError(
        `${ENV_KEY_SOURCE} holds the key from before \`secrets rotate-key\`; set it to the contents of ${paths.masterKeyNew} (base64: \`base64 -w0 ${paths.masterKeyNew}\`), then delete that file.`,
      );
    }
    if (key && !existsSync(paths.masterKeyOld)) renameSync(paths.masterKey, paths.masterKeyOld);
    renameSync(paths.masterKeyNew, paths.masterKey);
    log.warn("finished an interrupted key rotation: master.key now holds the new key", { old: paths.masterKeyOld });
    return { bytes: pending.bytes, source: paths.masterKey };
  }
  if (!key) {
    throw configError(
      `No master key: ${paths.masterKey} is missing and ${ENV_KEY_SOURCE} is not set, but this database was set up with one${unreadable(secretNames)}; restore master.key from your backup or set ${ENV_KEY_SOURCE}.`,
    );
  }
  // MINTGATE_MASTER_KEY wins over master.key: one left set in the shell (another gateway's) hides the file that fits.
  if (key.source === ENV_KEY_SOURCE) {
    const file = readMasterKeyFile(paths.masterKey);
    if (file && keyMatches(file, current)) {
      throw configError(`The master key from ${ENV_KEY_SOURCE} does not match this database's key, but ${paths.masterKey} (which the variable takes precedence over) does; unset ${ENV_KEY_SOURCE} (the database was not modified).`);
    }
  }
  throw configError(
    `The master key from ${key.source} does not match the key this database was encrypted with${unreadable(secretNames)}; restore the right ${key.source === ENV_KEY_SOURCE ? ENV_KEY_SOURCE : "master.key"} from your backup (the database was not modified).`,
  );
}

/** What a wrong or missing key locks away, named so the admin knows what is at stake (empty when nothing is). */
function unreadable(secretNames: string[]): string {
  if (secretNames.length === 0) return "";
  const shown = secretNames.length > 5 ? [...secretNames.slice(0, 4), `${secretNames.length - 4} more`] : secretNames;
  return `, and without it ${secretNames.length === 1 ? "its secret" : `its ${counted(secretNames.length, "secret")}`} ${joinedWithAnd(shown)} cannot be read`;
}

/**
 * Puts the database copy at `backup` (checked with `checkBackup`) in place of
 * the data directory's database. The current database (with its -wal and
 * -shm files, which must never meet another database) is moved aside, not
 * deleted. The master key must fit the copy, which is checked before anything
 * moves; if the copy then fails to open (a migration, say), the previous
 * database is moved back. Returns where the previous database now is.
 * Refused while a gateway serves from the directory (it holds the lock this takes).
 */
export function restoreDatabase(settings: Settings, backup: string): { previous: string | undefined; dir: DataDir } {
  const paths = dataPaths(settings.dataDir);
  refuseNonDirectory(settings.dataDir);
  if (existsSync(settings.dataDir)) refuseUnusable(settings, paths);
  if (!existsSync(paths.database)) {
    throw configError(`There is no database in ${settings.dataDir} to restore into; run \`mintgate init --data ${shellWord(settings.dataDir)}\` first (it makes the master key the copy needs, or put yours there).`);
  }
  const lock = lockDataDir(settings.dataDir, (holder) => `A gateway is serving from ${holder}; stop it first (SIGTERM), then restore.`);
  try {
    return swapInBackup(settings, paths, backup);
  } finally {
    lock.release();
  }
}

/** Where restore puts the checked copy before it takes the database's place. */
const restoringPath = (paths: ReturnType<typeof dataPaths>) => `${paths.database}.restoring`;

function swapInBackup(settings: Settings, paths: ReturnType<typeof dataPaths>, backup: string): { previous: string | undefined; dir: DataDir } {
  const inspection = inspectStore(backup);
  if (inspection.currentKey) {
    const key = loadMasterKey(settings, paths);
    if (!key || !keyMatches(key, inspection.currentKey)) {
      throw configError(
        `The master key ${key ? `from ${key.source} ` : ""}does not fit this backup (its secrets are encrypted under key version ${inspection.currentKey.version}); put the master.key that goes with it in place${existsSync(paths.masterKeyOld) ? " (master.key.old, if the key was rotated since)" : ""} and try again. Nothing was changed.`,
      );
    }
  }
  const incoming = restoringPath(paths);
  try {
    rmSync(incoming, { force: true });
    // Through SQLite, not a file copy: the copy's checks read its write-ahead log too, and so must what is put in place.
    snapshotDatabase(backup, incoming);
    chmodSync(incoming, 0o600);
    // On disk before the rename makes it the database: a power cut must not leave a renamed but empty file.
    const written = openSync(incoming, "r");
    try {
      fsyncSync(written);
    } finally {
      closeSync(written);
    }
  } catch (error) {
    rmSync(incoming, { force: true });
    throw configError(`Cannot copy the backup into ${settings.dataDir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check the free space and permissions. Nothing was changed.`, error);
  }
  const aside = `${paths.database}.before-restore-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  const moved: string[] = [];
  for (const suffix of ["", "-wal", "-shm"]) {
    if (!existsSync(paths.database + suffix)) continue;
    renameSync(paths.database + suffix, aside + suffix);
    moved.push(suffix);
  }
  renameSync(incoming, paths.database);
  try {
    const dir = openDataDir(settings, { initialise: false });
    try {
      keepDirectoryAdminToken(dir);
    } catch (error) {
      dir.close();
      throw error;
    }
    return { previous: moved.includes("") ? aside : undefined, dir };
  } catch (error) {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(paths.database + suffix, { force: true });
    for (const suffix of moved) renameSync(aside + suffix, paths.database + suffix);
    throw configError(`The backup could not be opened (${(error as Error).message}); the previous database is back in place.`, error);
  }
}

/**
 * The admin token is the one in the directory's admin.token, not the one in
 * the copy: restored into a directory `init` made on a new machine, the copy
 * knows only the lost machine's token, and the admin API, TUI and `status`
 * refused the token in admin.token ("use the one in DATA_DIR/admin.token").
 * A token replaced since the backup (a lost admin.token) must not come back
 * with the copy either. A copy that knows the directory's token keeps its row.
 */
function keepDirectoryAdminToken(dir: DataDir): void {
  if (!existsSync(dir.paths.adminToken)) return; // The next `serve` makes one, as for any directory without it.
  const token = readFileSync(dir.paths.adminToken, "utf8").trim();
  const tokenHash = hashToken(token);
  if (token === "" || dir.store.adminTokens.findByHash(tokenHash)) return;
  dir.store.transaction(() => {
    dir.store.adminTokens.deleteAll();
    dir.store.adminTokens.add({ id: randomUUID(), name: "local admin", tokenHash, createdAt: Date.now() });
  });
}

/**
 * Generates a new master key, re-encrypts every secret with it in one
 * transaction, then swaps the key files (keeping the old key as master.key.old).
 */
export function rotateMasterKey(dir: DataDir): { keyVersion: number; reencrypted: number; newKeyFile: string; oldKeyFile: string | null } {
  const { paths } = dir;
  const fromEnv = dir.masterKey.source === ENV_KEY_SOURCE;
  if (!fromEnv && existsSync(paths.masterKeyOld)) {
    throw configError(
      `${paths.masterKeyOld} from an earlier rotation is still there; move it to your backups (it decrypts backups made before that rotation) or delete it, then run rotate-key again.`,
    );
  }
  const newKey = generateMasterKey(paths.masterKeyNew);
  // Written before the database changes, so a crash after the commit can still find it.
  writeMasterKeyFile(paths.masterKeyNew, newKey, { overwrite: true });
  let result;
  try {
    // Retention checkpoints are signed with a key derived from the master key: re-signed in the same transaction.
    result = dir.secrets.rotateKey(newKey, (derivedKey) => {
      const resigned = resignCheckpoints(dir.store, derivedKey(CHECKPOINT_KEY_PURPOSE));
      recordAdminChange(dir.store, { actor: cliActor(), action: "secrets.rotate-key", detail: { keyVersion: dir.store.secrets.currentKeyVersion()?.version, checkpointsResigned: resigned } });
    });
  } catch (error) {
    rmSync(paths.masterKeyNew, { force: true });
    throw error;
  }
  if (fromEnv) {
    // null, not left out: `rotate-key --json` has the same keys either way.
    return { ...result, newKeyFile: paths.masterKeyNew, oldKeyFile: null };
  }
  promoteMasterKeyFile({ next: paths.masterKeyNew, current: paths.masterKey, old: paths.masterKeyOld });
  return { ...result, newKeyFile: paths.masterKey, oldKeyFile: paths.masterKeyOld };
}
