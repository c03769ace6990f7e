import { TranslationBundle } from '@jupyterlab/translation';

import { ClusterType, ICluster, IClusterList, IClusterSource } from './api';

/**
 * Cluster sources as the panel shows them. The server's registry
 * (`compute/sources/`) is the one table: `GET /clusters` serves each of the
 * Studio's sources with its label, its own words for states and a note about
 * attaching, and those win (shown as the server words them, as its reasons
 * are). `builtIn` says the same of the built-in sources, translated, for a
 * listing that does not carry them; a source neither knows is shown under its
 * type with EMR's words. A new source needs nothing here.
 */
export function builtIn(trans: TranslationBundle): IClusterSource[] {
  return [
    {
      type: 'emr-ec2',
      label: trans.__('EMR on EC2'),
      states: {},
      attach_note: ''
    },
    {
      type: 'emr-eks',
      label: trans.__('EMR on EKS'),
      states: {},
      attach_note: ''
    },
    {
      type: 'local',
      label: trans.__('Local'),
      states: {
        RUNNING: trans.__('ready'),
        WAITING: trans.__('stopped: starts when attached'),
        UNAVAILABLE: trans.__('unavailable')
      },
      attach_note: ''
    }
  ];
}

/**
 * States of a cluster on its way to ready, in every source's words (EMR
 * Serverless and EMR on EC2 start, EC2 bootstraps, EKS creates): the panel
 * follows an attached cluster through them (`WorkspaceListModel.follow`).
 */
export const STARTING_STATES: ReadonlySet<string> = new Set([
  'STARTING',
  'BOOTSTRAPPING',
  'CREATING'
]);

/**
 * EMR's states in words a user understands: ready / busy / stopped rather
 * than WAITING / RUNNING / TERMINATED (EMR on EC2's and EMR on EKS's names).
 */
function emrStates(trans: TranslationBundle): Record<string, string> {
  const starting = trans.__('starting');
  const stopping = trans.__('stopping');
  const stopped = trans.__('stopped');
  return {
    WAITING: trans.__('ready'),
    RUNNING: trans.__('busy'),
    STARTING: starting,
    BOOTSTRAPPING: starting,
    CREATING: starting,
    TERMINATING: stopping,
    DELETING: stopping,
    TERMINATED: stopped,
    TERMINATED_WITH_ERRORS: stopped,
    DELETED: stopped,
    ACTIVE: trans.__('ready'),
    UNAVAILABLE: trans.__('unavailable')
  };
}

/**
 * The sources to show, in order: the ones the server served, else the
 * built-in ones; then any type a cluster has that neither names.
 */
export function sourcesOf(
  list: IClusterList | null | undefined,
  trans: TranslationBundle
): IClusterSource[] {
  const out = list?.sources?.length ? [...list.sources] : builtIn(trans);
  for (const cluster of list?.clusters ?? []) {
    if (!out.some(source => source.type === cluster.type)) {
      out.push({
        type: cluster.type,
        label: cluster.type,
        states: {},
        attach_note: ''
      });
    }
  }
  return out;
}

/**
 * What is known of source `type`: served, else built in, else nothing.
 */
export function sourceOf(
  type: ClusterType,
  trans: TranslationBundle,
  list?: IClusterList | null
): IClusterSource | undefined {
  return (
    list?.sources?.find(source => source.type === type) ??
    builtIn(trans).find(source => source.type === type)
  );
}

/**
 * What a cluster's state means to a user: its source's own word if it has
 * one, else EMR's, else the state in lower case.
 */
export function stateText(
  cluster: Pick<ICluster, 'type' | 'state'>,
  trans: TranslationBundle,
  list?: IClusterList | null
): string {
  const state = (cluster.state || '').toUpperCase();
  return (
    sourceOf(cluster.type, trans, list)?.states?.[state] ??
    emrStates(trans)[state] ??
    state.toLowerCase()
  );
}
