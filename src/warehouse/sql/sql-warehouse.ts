import type { Dialect } from '../dialect.js';
import type { Driver, Fence } from '../driver.js';
import type {
  RunEnd,
  Warehouse,
  WarehouseChecks,
  WarehouseLake,
  WarehouseLoad,
  WarehouseOperations,
  WarehouseState,
} from '../warehouse.js';
import { SqlChecks } from './sql-checks.js';
import { SqlDimensions } from './sql-dimensions.js';
import { SqlLakeExport } from './sql-lake-export.js';
import { SqlLoader } from './sql-loader.js';
import { SqlOperations } from './sql-operations.js';
import { SqlState } from './sql-state.js';

/**
 * The one warehouse logic, written once against a driver (its dialect, typed
 * parameters, staging and transactions) for every engine: each role is its own
 * class over the driver (state, load, lake, checks, operations), and this one
 * composes them into the whole `Warehouse` and owns its lifecycle. Each of its
 * methods is its role's, with the role's own signature.
 */
export class SqlWarehouse implements Warehouse {
  readonly description: string;
  readonly dialect: Dialect;
  private readonly state: SqlState;
  private readonly checks: SqlChecks;
  private readonly loader: SqlLoader;
  private readonly lake: SqlLakeExport;
  private readonly operations: SqlOperations;
  /** An erasure committed: the engine's storage is reclaimed once closed. */
  private erased = false;
  readonly letReadersIn?: () => Promise<void>;

  /** `fence`: the run lock's check (its lease), run inside every transaction that changes state. */
  constructor(
    private readonly driver: Driver,
    fence?: Fence,
  ) {
    this.description = driver.description;
    this.dialect = driver.dialect;
    const dims = new SqlDimensions(driver);
    this.state = new SqlState(driver, fence);
    this.checks = new SqlChecks(driver);
    this.loader = new SqlLoader(driver, this.checks, this.state, dims, fence);
    this.lake = new SqlLakeExport(driver);
    this.operations = new SqlOperations(driver, this.state, dims, fence);
    this.letReadersIn = driver.letReadersIn?.bind(driver);
  }

  migrate(): Promise<number> {
    return this.driver.migrate();
  }

  async close(): Promise<void> {
    await this.driver.close();
    if (this.erased) await this.driver.reclaimErasedSpace?.();
  }

  // State

  getCheckpoint(...args: Parameters<WarehouseState['getCheckpoint']>) {
    return this.state.getCheckpoint(...args);
  }

  loadedFiles(...args: Parameters<WarehouseState['loadedFiles']>) {
    return this.state.loadedFiles(...args);
  }

  loadedSpan(...args: Parameters<WarehouseState['loadedSpan']>) {
    return this.state.loadedSpan(...args);
  }

  lastWindow(...args: Parameters<WarehouseState['lastWindow']>) {
    return this.state.lastWindow(...args);
  }

  completedWindows(...args: Parameters<WarehouseState['completedWindows']>) {
    return this.state.completedWindows(...args);
  }

  setState(...args: Parameters<WarehouseState['setState']>) {
    return this.state.setState(...args);
  }

  acceptLoss(...args: Parameters<WarehouseState['acceptLoss']>) {
    return this.state.acceptLoss(...args);
  }

  acceptedLosses(...args: Parameters<WarehouseState['acceptedLosses']>) {
    return this.state.acceptedLosses(...args);
  }

  startRun(...args: Parameters<WarehouseState['startRun']>) {
    return this.state.startRun(...args);
  }

  abandonUnfinishedRuns(...args: Parameters<WarehouseState['abandonUnfinishedRuns']>) {
    return this.state.abandonUnfinishedRuns(...args);
  }

  finishRun(end: RunEnd) {
    return this.state.finishRun(end);
  }

  // Load

  loadPackage(...args: Parameters<WarehouseLoad['loadPackage']>) {
    return this.loader.loadPackage(...args);
  }

  syncReference(...args: Parameters<WarehouseLoad['syncReference']>) {
    return this.loader.syncReference(...args);
  }

  erasedSubjects(...args: Parameters<WarehouseLoad['erasedSubjects']>) {
    return this.loader.erasedSubjects(...args);
  }

  // Lake

  adoptLake(...args: Parameters<WarehouseLake['adoptLake']>) {
    return this.lake.adoptLake(...args);
  }

  pendingLakePartitions(...args: Parameters<WarehouseLake['pendingLakePartitions']>) {
    return this.lake.pendingLakePartitions(...args);
  }

  exportLakePartition(...args: Parameters<WarehouseLake['exportLakePartition']>) {
    return this.lake.exportLakePartition(...args);
  }

  clearLakePending(...args: Parameters<WarehouseLake['clearLakePending']>) {
    return this.lake.clearLakePending(...args);
  }

  // Checks

  query(...args: Parameters<WarehouseChecks['query']>) {
    return this.checks.query(...args);
  }

  presentCount(...args: Parameters<WarehouseChecks['presentCount']>) {
    return this.checks.presentCount(...args);
  }

  newDriftFields(...args: Parameters<WarehouseChecks['newDriftFields']>) {
    return this.checks.newDriftFields(...args);
  }

  writeCheckResults(...args: Parameters<WarehouseChecks['writeCheckResults']>) {
    return this.checks.writeCheckResults(...args);
  }

  hourPrints(...args: Parameters<WarehouseChecks['hourPrints']>) {
    return this.checks.hourPrints(...args);
  }

  dimensionsPrint() {
    return this.checks.dimensionsPrint();
  }

  markVerifiedHours(...args: Parameters<WarehouseChecks['markVerifiedHours']>) {
    return this.checks.markVerifiedHours(...args);
  }

  renewVerifiedDimensions(...args: Parameters<WarehouseChecks['renewVerifiedDimensions']>) {
    return this.checks.renewVerifiedDimensions(...args);
  }

  // Operations

  status(...args: Parameters<WarehouseOperations['status']>) {
    return this.operations.status(...args);
  }

  tableCounts() {
    return this.operations.tableCounts();
  }

  listRejects(...args: Parameters<WarehouseOperations['listRejects']>) {
    return this.operations.listRejects(...args);
  }

  rejectsToReplay(...args: Parameters<WarehouseOperations['rejectsToReplay']>) {
    return this.operations.rejectsToReplay(...args);
  }

  retentionPlan(...args: Parameters<WarehouseOperations['retentionPlan']>) {
    return this.operations.retentionPlan(...args);
  }

  applyRetention(...args: Parameters<WarehouseOperations['applyRetention']>) {
    return this.operations.applyRetention(...args);
  }

  async eraseUser(...args: Parameters<WarehouseOperations['eraseUser']>) {
    const outcome = await this.operations.eraseUser(...args);
    this.erased = true;
    return outcome;
  }

  rebuildDimensions(...args: Parameters<WarehouseOperations['rebuildDimensions']>) {
    return this.operations.rebuildDimensions(...args);
  }

  analystQuery(...args: Parameters<WarehouseOperations['analystQuery']>) {
    return this.operations.analystQuery(...args);
  }
}
