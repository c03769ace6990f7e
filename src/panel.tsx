import { ReactWidget } from '@jupyterlab/apputils';
import { Time } from '@jupyterlab/coreutils';
import { TranslationBundle } from '@jupyterlab/translation';
import { addIcon, refreshIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import type { Message } from '@lumino/messaging';
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

import {
  Actions,
  backupsOf,
  ICluster,
  IClusterList,
  IStudio,
  IWorkspace
} from './api';
import { sourcesOf } from './sources';
import { SparkLinks } from './sparkLinks';
import { attachmentName, clusterStateText } from './words';
import { ApiError, isStoreUnavailable } from './handler';
import {
  ActivityModel,
  ILeaseState,
  LeaseKeeper,
  WorkspaceListModel,
  workspaceState
} from './models';
import { CommandIDs } from './tokens';
import { ExecutionsModel, ExecutionsSection } from './executionsPanel';
import { SchedulesSection } from './schedulesPanel';
import { attachCommand, roleName } from './serverless';

/**
 * Re-render when any of the signals fires.
 */
function useSignals(signals: ISignal<any, any>[]): void {
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    const bump = () => setTick(tick => tick + 1);
    signals.forEach(signal => signal.connect(bump));
    // Catch up with changes emitted before this effect subscribed.
    bump();
    return () => {
      signals.forEach(signal => signal.disconnect(bump));
    };
  }, signals);
}

function formatTime(value: string | null | undefined): string {
  if (!value) {
    return '';
  }
  const date = new Date(value);
  return isNaN(date.getTime()) ? value : Time.formatHuman(date);
}

interface IPanelProps {
  model: WorkspaceListModel;
  keeper: LeaseKeeper;
  activity: ActivityModel;
  commands: CommandRegistry;
  trans: TranslationBundle;
  /** The open Workspace's executions (issue 13). */
  executions?: ExecutionsModel;
}

/**
 * The text of a Workspace's state: free / in use by NAME since TIME / ...
 */
export function stateText(
  workspace: IWorkspace,
  user: string | undefined,
  trans: TranslationBundle
): string {
  const state = workspaceState(workspace, user);
  switch (state.kind) {
    case 'free':
      return trans.__('Free');
    case 'mine':
      return trans.__(
        'In use by you since %1',
        formatTime(state.holders[0]?.since)
      );
    case 'in-use':
      return trans.__(
        'In use by %1 since %2',
        state.holder.user,
        formatTime(state.holder.since)
      );
    case 'collaborative':
      return trans._n(
        'Collaborative, %1 editor',
        'Collaborative, %1 editors',
        state.holders.length
      );
  }
}

function clusterText(
  workspace: IWorkspace,
  trans: TranslationBundle,
  clusters: IClusterList | null
): string {
  const attachment = workspace.attachment;
  if (!attachment) {
    return trans.__('No cluster attached');
  }
  return trans.__('Cluster: %1', attachmentName(attachment, clusters));
}

function ErrorMessage(props: {
  error: Error | string | null;
  prefix?: string;
}): JSX.Element | null {
  if (!props.error) {
    return null;
  }
  const message =
    typeof props.error === 'string' ? props.error : props.error.message;
  return (
    <div className="jp-EmrWorkspace-error" role="alert">
      {props.prefix ? `${props.prefix} ` : ''}
      {message}
    </div>
  );
}

/**
 * Says, without alarm, that this server does not back Workspaces up, and why
 * (`/studio`'s `backups`; nothing when an older server does not say).
 */
export function BackupsOffNotice(props: {
  studio: IStudio | null;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { trans } = props;
  const backups = backupsOf(props.studio);
  if (!backups || backups.enabled) {
    return null;
  }
  return (
    <div
      className="jp-EmrWorkspace-notice jp-mod-backupsOff"
      role="status"
      title={
        backups.contents_manager
          ? trans.__('Contents manager: %1', backups.contents_manager)
          : undefined
      }
    >
      <strong>{trans.__('Backups are off on this server.')}</strong>{' '}
      {backups.reason && (
        <span className="jp-EmrWorkspace-noticeReason">{backups.reason}</span>
      )}{' '}
      {trans.__('Workspaces still open, lock and save on this server.')}
    </div>
  );
}

/**
 * Says plainly that the Studio's store is away (503 `StoreUnavailable`): which
 * store (the server's message names it), that work here is kept and backed up
 * once it is back, and when the panel tries again.
 */
export function StoreUnavailableNotice(props: {
  error: ApiError | null;
  nextTry: Date | null;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { error, nextTry, trans } = props;
  if (!error) {
    return null;
  }
  return (
    <div
      className="jp-EmrWorkspace-notice jp-mod-storeUnavailable"
      role="status"
    >
      <strong>{trans.__("The Studio's store cannot be reached.")}</strong>{' '}
      <span className="jp-EmrWorkspace-noticeReason">{error.message}</span>{' '}
      {trans.__(
        'Work on this server is kept here and backed up when the store is back. The list below may be out of date.'
      )}{' '}
      {nextTry
        ? trans.__(
            'Trying again at %1.',
            nextTry.toLocaleTimeString(undefined, { hour12: false })
          )
        : trans.__('Trying again automatically.')}
    </div>
  );
}

function OpenWorkspaceSummary(props: {
  state: ILeaseState;
  trans: TranslationBundle;
  commands: CommandRegistry;
}): JSX.Element | null {
  const { state, trans, commands } = props;
  if (!state.workspace || state.mode === 'closed') {
    return null;
  }
  const name = state.workspace.name;
  let text: string;
  switch (state.mode) {
    case 'opening':
      text = trans.__('Opening %1…', name);
      break;
    case 'closing':
      text = trans.__('Closing %1…', name);
      break;
    case 'editing':
      text = trans.__('%1 is open in this tab; you hold its lease.', name);
      break;
    default:
      text =
        state.reason === 'lease-lost'
          ? trans.__('You lost the lease on %1: it is read-only now.', name)
          : trans.__(
              '%1 is read-only: %2 has been editing it since %3.',
              name,
              state.holder?.user ?? '?',
              formatTime(state.holder?.since)
            );
  }
  return (
    <div
      className={`jp-EmrWorkspace-current jp-mod-${state.mode}`}
      role="status"
      aria-live="polite"
    >
      <span>{text}</span>
      {state.heartbeatError &&
        state.mode === 'editing' &&
        (isStoreUnavailable(state.heartbeatError) ? (
          <div
            className="jp-EmrWorkspace-notice jp-mod-storeUnavailable"
            role="status"
          >
            {trans.__(
              'The lease cannot be renewed while the store is away (%1); retrying. Your work is kept on this server.',
              state.heartbeatError.message
            )}
          </div>
        ) : (
          <ErrorMessage
            error={state.heartbeatError}
            prefix={trans.__('Could not renew the lease, retrying:')}
          />
        ))}
      {(state.mode === 'editing' || state.mode === 'read-only') && (
        <button
          type="button"
          className="jp-mod-styled jp-EmrWorkspace-button"
          onClick={() => void commands.execute(CommandIDs.close)}
        >
          {trans.__('Close')}
        </button>
      )}
    </div>
  );
}

function WorkspaceItem(props: {
  workspace: IWorkspace;
  props: IPanelProps;
}): JSX.Element {
  const { workspace } = props;
  const { model, keeper, commands, trans } = props.props;
  const user = model.studio?.user.name;
  const state = workspaceState(workspace, user);
  const current =
    keeper.state.workspace?.id === workspace.id &&
    keeper.state.mode !== 'closed';
  const busy =
    keeper.state.mode === 'opening' || keeper.state.mode === 'closing';
  const headingId = `jp-EmrWorkspace-ws-${workspace.id}`;
  return (
    <li
      className={`jp-EmrWorkspace-item${current ? ' jp-mod-current' : ''}`}
      aria-labelledby={headingId}
      data-workspace-id={workspace.id}
    >
      <div className="jp-EmrWorkspace-itemHeader">
        <span id={headingId} className="jp-EmrWorkspace-itemName">
          {workspace.name}
        </span>
        <span
          className={`jp-EmrWorkspace-state jp-mod-${state.kind}`}
          data-state={state.kind}
        >
          {stateText(workspace, user, trans)}
        </span>
      </div>
      {workspace.description && (
        <div className="jp-EmrWorkspace-itemDescription">
          {workspace.description}
        </div>
      )}
      <div className="jp-EmrWorkspace-itemMeta">
        <span>
          {trans.__(
            'Created by %1 %2',
            workspace.created_by,
            formatTime(workspace.created_at)
          )}
        </span>
        <span className="jp-EmrWorkspace-itemCluster">
          {clusterText(workspace, trans, model.clusters)}
        </span>
      </div>
      <div
        className="jp-EmrWorkspace-actions"
        role="group"
        aria-label={trans.__('Actions on %1', workspace.name)}
      >
        {current ? (
          <button
            type="button"
            className="jp-mod-styled jp-EmrWorkspace-button"
            disabled={busy}
            onClick={() => void commands.execute(CommandIDs.close)}
            aria-label={trans.__('Close %1', workspace.name)}
          >
            {trans.__('Close')}
          </button>
        ) : (
          model.canOn(workspace, Actions.openWorkspace) && (
            <button
              type="button"
              className="jp-mod-styled jp-mod-accept jp-EmrWorkspace-button"
              disabled={busy}
              onClick={() =>
                void commands.execute(CommandIDs.open, { id: workspace.id })
              }
              aria-label={trans.__('Open %1', workspace.name)}
            >
              {trans.__('Open')}
            </button>
          )
        )}
        {current &&
          keeper.state.mode === 'editing' &&
          workspace.collaboration?.enabled &&
          model.canOn(workspace, Actions.shareWorkspace) && (
            <button
              type="button"
              className="jp-mod-styled jp-EmrWorkspace-button"
              disabled={busy}
              onClick={() =>
                void commands.execute(CommandIDs.share, { id: workspace.id })
              }
              aria-label={trans.__(
                'Share %1 with collaborators',
                workspace.name
              )}
              title={trans.__(
                'Share this JupyterHub server with the collaborators of %1',
                workspace.name
              )}
            >
              {trans.__('Share')}
            </button>
          )}
        {model.canOn(workspace, Actions.deleteWorkspace) && (
          <button
            type="button"
            className="jp-mod-styled jp-EmrWorkspace-button"
            onClick={() =>
              void commands.execute(CommandIDs.deleteWorkspace, {
                id: workspace.id
              })
            }
            aria-label={trans.__('Delete %1', workspace.name)}
          >
            {trans.__('Delete')}
          </button>
        )}
        {(state.kind === 'in-use' || state.kind === 'collaborative') &&
          model.canOn(workspace, Actions.forceRelease) && (
            <button
              type="button"
              className="jp-mod-styled jp-EmrWorkspace-button"
              onClick={() =>
                void commands.execute(CommandIDs.forceRelease, {
                  id: workspace.id
                })
              }
              aria-label={trans.__('Force release %1', workspace.name)}
            >
              {trans.__('Force release')}
            </button>
          )}
      </div>
    </li>
  );
}

function ClusterItem(props: {
  cluster: ICluster;
  props: IPanelProps;
}): JSX.Element {
  const { cluster } = props;
  const { model, keeper, commands, trans } = props.props;
  const state = keeper.state;
  const attachment =
    state.mode === 'editing' ? state.workspace?.attachment : null;
  const attached =
    !!attachment &&
    attachment.cluster_id === cluster.id &&
    attachment.type === cluster.type &&
    (!cluster.endpoint_id || attachment.endpoint_id === cluster.endpoint_id);
  const canAct = state.mode === 'editing';
  const headingId = `jp-EmrWorkspace-cluster-${cluster.type}-${cluster.id}-${
    cluster.endpoint_id ?? ''
  }`;
  return (
    <li
      className={`jp-EmrWorkspace-item${attached ? ' jp-mod-current' : ''}`}
      aria-labelledby={headingId}
      data-cluster-id={cluster.id}
    >
      <div className="jp-EmrWorkspace-itemHeader">
        <span id={headingId} className="jp-EmrWorkspace-itemName">
          {cluster.name || cluster.id}
        </span>
        <span
          className="jp-EmrWorkspace-state"
          data-state={cluster.state}
          title={cluster.state}
        >
          {clusterStateText(cluster, trans, model.clusters)}
        </span>
      </div>
      <div className="jp-EmrWorkspace-itemMeta">
        <span>{cluster.id}</span>
        {cluster.release_label && <span>{cluster.release_label}</span>}
        {attached && attachment?.execution_role_arn && (
          <span title={attachment.execution_role_arn}>
            {trans.__('as %1', roleName(attachment.execution_role_arn))}
          </span>
        )}
      </div>
      {!cluster.attachable && cluster.reason && (
        <div id={`${headingId}-reason`} className="jp-EmrWorkspace-reason">
          {cluster.reason}
        </div>
      )}
      <div className="jp-EmrWorkspace-actions">
        {attached
          ? model.canOn(state.workspace, Actions.detach) && (
              <button
                type="button"
                className="jp-mod-styled jp-EmrWorkspace-button"
                disabled={!canAct}
                onClick={() => void commands.execute(CommandIDs.detach)}
                aria-label={trans.__(
                  'Detach from %1',
                  cluster.name || cluster.id
                )}
              >
                {trans.__('Detach')}
              </button>
            )
          : model.canOn(state.workspace, Actions.attach) && (
              <>
                <button
                  type="button"
                  className="jp-mod-styled jp-mod-accept jp-EmrWorkspace-button"
                  disabled={!canAct || !cluster.attachable}
                  aria-describedby={
                    !canAct
                      ? `${headingId}-why`
                      : !cluster.attachable && cluster.reason
                        ? `${headingId}-reason`
                        : undefined
                  }
                  onClick={() =>
                    void commands.execute(attachCommand(cluster.type), {
                      type: cluster.type,
                      clusterId: cluster.id,
                      clusterName: cluster.name || cluster.id,
                      endpointId: cluster.endpoint_id ?? ''
                    })
                  }
                  aria-label={trans.__(
                    'Attach to %1',
                    cluster.name || cluster.id
                  )}
                >
                  {trans.__('Attach')}
                </button>
                {!canAct && (
                  <span
                    id={`${headingId}-why`}
                    className="jp-EmrWorkspace-disabledReason"
                  >
                    {trans.__('Open a Workspace to attach it to a cluster.')}
                  </span>
                )}
              </>
            )}
      </div>
    </li>
  );
}

function ComputeSection(props: IPanelProps): JSX.Element {
  const { model, commands, trans } = props;
  const editing = props.keeper.state;
  const attachedId =
    editing.mode === 'editing' && editing.workspace?.attachment
      ? editing.workspace.id
      : null;
  const [filter, setFilter] = React.useState('');
  const list = model.clusters;
  const needle = filter.trim().toLowerCase();
  const clusters = (list?.clusters ?? []).filter(
    cluster =>
      !needle ||
      [cluster.name, cluster.id, cluster.state, cluster.type]
        .join(' ')
        .toLowerCase()
        .includes(needle)
  );
  return (
    <section
      className="jp-EmrWorkspace-section"
      aria-labelledby="jp-EmrWorkspace-computeHeading"
    >
      <div className="jp-EmrWorkspace-sectionHeader">
        <h3 id="jp-EmrWorkspace-computeHeading">{trans.__('Compute')}</h3>
        <button
          type="button"
          className="jp-EmrWorkspace-iconButton"
          onClick={() => void commands.execute(CommandIDs.refreshClusters)}
          aria-label={trans.__('Refresh clusters')}
          title={trans.__('Refresh clusters')}
        >
          <refreshIcon.react tag="span" />
        </button>
        {model.can(Actions.createCluster) && model.templates.length > 0 && (
          <button
            type="button"
            className="jp-mod-styled jp-EmrWorkspace-button"
            onClick={() => void commands.execute(CommandIDs.createCluster)}
          >
            {trans.__('Create cluster')}
          </button>
        )}
      </div>
      <input
        type="search"
        className="jp-mod-styled jp-EmrWorkspace-filter"
        placeholder={trans.__('Filter clusters')}
        aria-label={trans.__('Filter clusters')}
        value={filter}
        onChange={e => setFilter(e.target.value)}
      />
      {attachedId && (
        <SparkLinks
          workspaceId={attachedId}
          trans={trans}
          settings={model.client.serverSettings}
        />
      )}
      <ErrorMessage error={model.clusterError} />
      {(list?.errors ?? []).map(error => (
        <ErrorMessage
          key={error.source}
          error={`${error.source}: ${error.message}`}
        />
      ))}
      {!list && model.clustersLoading && (
        <div className="jp-EmrWorkspace-empty">
          {trans.__('Loading clusters…')}
        </div>
      )}
      {sourcesOf(list, trans).map(source => {
        const items = clusters.filter(cluster => cluster.type === source.type);
        if (items.length === 0) {
          return null;
        }
        const id = `jp-EmrWorkspace-source-${source.type}`;
        return (
          <div key={source.type} className="jp-EmrWorkspace-group">
            <h4 id={id} title={source.attach_note || undefined}>
              {source.label}
            </h4>
            <ul aria-labelledby={id}>
              {items.map(cluster => (
                <ClusterItem
                  key={`${cluster.type}/${cluster.id}/${cluster.endpoint_id ?? ''}`}
                  cluster={cluster}
                  props={props}
                />
              ))}
            </ul>
          </div>
        );
      })}
      {list && clusters.length === 0 && (
        <div className="jp-EmrWorkspace-empty">
          {needle
            ? trans.__('No cluster matches the filter.')
            : trans.__('No clusters.')}
        </div>
      )}
    </section>
  );
}

function PanelView(props: IPanelProps): JSX.Element {
  const { model, keeper, activity, commands, trans } = props;
  useSignals([model.changed, keeper.stateChanged, activity.changed]);
  const studio = model.studio;

  if (model.fatal) {
    return (
      <div className="jp-EmrWorkspace-panelBody">
        <div className="jp-EmrWorkspace-error jp-mod-fatal" role="alert">
          {model.fatal}
        </div>
      </div>
    );
  }

  return (
    <div className="jp-EmrWorkspace-panelBody">
      <div className="jp-EmrWorkspace-header">
        <h2>{trans.__('EMR Workspaces')}</h2>
        <button
          type="button"
          className="jp-EmrWorkspace-iconButton"
          onClick={() => void commands.execute(CommandIDs.refresh)}
          aria-label={trans.__('Refresh Workspaces')}
          title={trans.__('Refresh Workspaces')}
        >
          <refreshIcon.react tag="span" />
        </button>
      </div>
      {studio && (
        <div className="jp-EmrWorkspace-studio">
          {trans.__(
            'Studio %1 · signed in as %2',
            studio.name,
            studio.user.name
          )}
        </div>
      )}
      {activity.items.length > 0 && (
        <div
          className="jp-EmrWorkspace-progress"
          role="status"
          aria-live="polite"
        >
          <progress aria-label={activity.items[0].label} />
          {activity.items.map(item => (
            <div key={item.id}>{item.label}</div>
          ))}
        </div>
      )}
      <BackupsOffNotice studio={studio} trans={trans} />
      {model.storeUnavailable ? (
        <StoreUnavailableNotice
          error={model.storeUnavailable}
          nextTry={model.nextTry}
          trans={trans}
        />
      ) : (
        <ErrorMessage error={model.error} />
      )}
      <OpenWorkspaceSummary
        state={keeper.state}
        trans={trans}
        commands={commands}
      />
      <section
        className="jp-EmrWorkspace-section"
        aria-labelledby="jp-EmrWorkspace-workspacesHeading"
      >
        <div className="jp-EmrWorkspace-sectionHeader">
          <h3 id="jp-EmrWorkspace-workspacesHeading">
            {trans.__('Workspaces')}
          </h3>
          {model.can(Actions.createWorkspace) && (
            <button
              type="button"
              className="jp-mod-styled jp-mod-accept jp-EmrWorkspace-button"
              onClick={() => void commands.execute(CommandIDs.create)}
              disabled={!studio}
            >
              <addIcon.react
                tag="span"
                className="jp-EmrWorkspace-buttonIcon"
              />
              {trans.__('New Workspace')}
            </button>
          )}
        </div>
        {!model.loaded && !model.error && (
          <div className="jp-EmrWorkspace-empty">{trans.__('Loading…')}</div>
        )}
        {model.loaded && model.workspaces.length === 0 && (
          <div className="jp-EmrWorkspace-empty">
            {trans.__('No Workspaces yet.')}
          </div>
        )}
        <ul aria-labelledby="jp-EmrWorkspace-workspacesHeading">
          {model.workspaces.map(workspace => (
            <WorkspaceItem
              key={workspace.id}
              workspace={workspace}
              props={props}
            />
          ))}
        </ul>
      </section>
      {props.executions && model.can(Actions.listExecutions) && (
        <ExecutionsSection
          model={props.executions}
          commands={commands}
          trans={trans}
        />
      )}
      {props.executions?.workspaceId &&
        model.canOn(keeper.state.workspace, Actions.manageSchedules) && (
          <SchedulesSection
            client={model.client}
            workspaceId={props.executions.workspaceId}
            trans={trans}
          />
        )}
      {model.can(Actions.listClusters) && <ComputeSection {...props} />}
    </div>
  );
}

/**
 * The "EMR Workspaces" side panel.
 *
 * It tells its model whether it is visible: the list polls only while it is.
 */
export class EmrWorkspacePanel extends ReactWidget {
  constructor(private options: IPanelProps) {
    super();
    this.addClass('jp-EmrWorkspace-panel');
    this.options.model.visible = false;
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.options.model.visible = this.isVisible;
    this._setExecutionsVisible(this.isVisible);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.options.model.visible = true;
    this._setExecutionsVisible(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.options.model.visible = false;
    this._setExecutionsVisible(false);
  }

  protected onBeforeDetach(msg: Message): void {
    this.options.model.visible = false;
    this._setExecutionsVisible(false);
    super.onBeforeDetach(msg);
  }

  private _setExecutionsVisible(visible: boolean): void {
    if (this.options.executions) {
      this.options.executions.visible = visible;
    }
  }

  protected render(): JSX.Element {
    return <PanelView {...this.options} />;
  }
}
