import { TranslationBundle } from '@jupyterlab/translation';

import { IAttachment, ICluster, IClusterList } from './api';
import { stateText } from './sources';

/**
 * Words a user understands for clusters: their display name rather than an id
 * ("Local Spark (this server)", not "local"), and ready / busy / stopped
 * rather than EMR's WAITING / RUNNING / TERMINATED. The raw state stays
 * available (tooltips) for those who know EMR.
 */

/**
 * The display name of the cluster an attachment points at: the name the
 * server recorded, else the listed cluster's, else its id.
 */
export function attachmentName(
  attachment: (IAttachment & { name?: string | null }) | null | undefined,
  clusters: IClusterList | ICluster[] | null | undefined
): string {
  if (!attachment) {
    return '';
  }
  if (attachment.name) {
    return attachment.name;
  }
  return clusterName(
    clusters,
    attachment.type,
    attachment.cluster_id,
    attachment.endpoint_id
  );
}

/**
 * The display name of cluster `id` (of `type`) in `clusters`, else its id.
 */
export function clusterName(
  clusters: IClusterList | ICluster[] | null | undefined,
  type: string,
  id: string,
  endpointId?: string | null
): string {
  const list = Array.isArray(clusters) ? clusters : (clusters?.clusters ?? []);
  const found = list.find(
    cluster =>
      cluster.id === id &&
      cluster.type === type &&
      (!endpointId ||
        !cluster.endpoint_id ||
        cluster.endpoint_id === endpointId)
  );
  return found?.name || id;
}

/**
 * What a cluster's state means to a user.
 *
 * The local engine is "ready" while it runs, "stopped" when it will start on
 * the next attach or kernel; an EMR cluster is "ready" when WAITING (idle),
 * "busy" when RUNNING steps. Each source's words come with the listing
 * (`sources.ts`).
 */
export function clusterStateText(
  cluster: Pick<ICluster, 'type' | 'state'>,
  trans: TranslationBundle,
  list?: IClusterList | null
): string {
  return stateText(cluster, trans, list);
}
