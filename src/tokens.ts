/**
 * The plugin's id; also the settings' id (`schema/plugin.json`).
 */
export const PLUGIN_ID = 'jupyter-emr-workspace:plugin';

/**
 * Ids of the commands the plugin registers.
 */
export namespace CommandIDs {
  export const showPanel = 'emr-workspace:show-panel';
  export const refresh = 'emr-workspace:refresh';
  export const refreshClusters = 'emr-workspace:refresh-clusters';
  export const create = 'emr-workspace:create';
  export const open = 'emr-workspace:open';
  export const close = 'emr-workspace:close';
  export const deleteWorkspace = 'emr-workspace:delete';
  export const forceRelease = 'emr-workspace:force-release';
  export const attach = 'emr-workspace:attach';
  export const detach = 'emr-workspace:detach';
  export const backupNow = 'emr-workspace:backup-now';
  export const createCluster = 'emr-workspace:create-cluster';
  export const share = 'emr-workspace:share';
}
