import { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification, showErrorMessage } from '@jupyterlab/apputils';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { DisposableSet, IDisposable } from '@lumino/disposable';

import {
  Actions,
  backupsOf,
  ClusterType,
  EmrWorkspaceClient,
  IWorkspace
} from './api';
import type { IOpenSources } from './closing';
import { emrWorkspaceIcon } from './icons';
import {
  ActivityModel,
  BackupMonitor,
  LeaseKeeper,
  WorkspaceListModel
} from './models';
import { addExecutionRoleCommand } from './serverless';
import { CommandIDs } from './tokens';
import { attachmentName, clusterName } from './words';

/**
 * The plugin's commands, apart from the wiring in `index.ts`.
 *
 * Each command that acts on one Workspace has the same skeleton: find the
 * Workspace, do the work, and report a failure naming what failed.
 * `workspaceCommand` holds that skeleton once, so a command is only its work.
 */

/**
 * What the commands act on (built once by the plugin; stand-ins in tests).
 */
export interface ICommandDeps {
  client: EmrWorkspaceClient;
  model: WorkspaceListModel;
  keeper: LeaseKeeper;
  backup: BackupMonitor;
  activity: ActivityModel;
  trans: TranslationBundle;
  /** Read at each use: the user may change them at any time. */
  settings: { readonly confirmDialogs: boolean };
  /** The id of the side panel `showPanel` activates. */
  panelId: string;
  /** The file browser the Workspace's folder is shown in, if any. */
  browser?: {
    id: string;
    model: { path: string; cd(path: string): Promise<void> };
  } | null;
  /** How failures are shown (default: an error toast that stays). */
  report?: (what: string, error: unknown) => void;
}

/**
 * The part of the application the commands use.
 */
export type CommandApp = {
  commands: JupyterFrontEnd['commands'];
  shell: Pick<JupyterFrontEnd.IShell, 'activateById' | 'widgets'>;
  serviceManager: { sessions: IOpenSources['sessions'] };
};

/**
 * Characters of its message a toast shows: JupyterLab cuts the rest with "…".
 */
export const TOAST_MESSAGE_LENGTH = 140;

/**
 * Show errors with their message; errors are never swallowed. A toast shows
 * only the first characters of a message, and the server's say why at their
 * end (a refused execution role: the action and the policy), so a longer one
 * gets a Details button showing it whole.
 */
export function errorReporter(
  trans: TranslationBundle = nullTranslator.load('jupyter_emr_workspace')
): (what: string, error: unknown) => void {
  return (what, error) => {
    const message = error instanceof Error ? error.message : String(error);
    console.error(what, error);
    const text = `${what} ${message}`;
    Notification.error(text, {
      autoClose: false,
      actions:
        text.length > TOAST_MESSAGE_LENGTH
          ? [
              {
                label: trans.__('Details'),
                callback: () => void showErrorMessage(what, message)
              }
            ]
          : []
    });
  };
}

/**
 * Show an error with its message (untranslated).
 */
export const reportError = errorReporter();

/**
 * The shared skeleton of a command on one Workspace, as its `execute`.
 *
 * `find` names the Workspace (null: nothing to do); `run` does the work; any
 * failure, finding included, is reported as `failure(workspace) + message`.
 */
export function workspaceCommand<T>(options: {
  find: (
    args: ReadonlyPartialJSONObject
  ) => IWorkspace | null | Promise<IWorkspace | null>;
  run: (workspace: IWorkspace, args: ReadonlyPartialJSONObject) => Promise<T>;
  failure: (
    workspace: IWorkspace | null,
    args: ReadonlyPartialJSONObject
  ) => string;
  report: (what: string, error: unknown) => void;
}): (args: ReadonlyPartialJSONObject) => Promise<T | undefined> {
  return async args => {
    let workspace: IWorkspace | null = null;
    try {
      workspace = await options.find(args);
      if (!workspace) {
        return undefined;
      }
      return await options.run(workspace, args);
    } catch (error) {
      options.report(options.failure(workspace, args), error);
      return undefined;
    }
  };
}

/**
 * Register the plugin's commands; disposing the result removes them.
 */
export function addCommands(app: CommandApp, deps: ICommandDeps): IDisposable {
  const { commands, shell } = app;
  const { client, model, keeper, backup, activity, trans, settings } = deps;
  const browser = deps.browser ?? null;
  const report = deps.report ?? errorReporter(trans);
  const disposables = new DisposableSet();
  const add = (
    id: string,
    options: Parameters<typeof commands.addCommand>[1]
  ) => disposables.add(commands.addCommand(id, options));

  const goTo = async (path: string) => {
    if (!browser) {
      return;
    }
    await browser.model.cd('/' + path.replace(/^\/+/, ''));
    shell.activateById(browser.id);
  };

  /** The Workspace named by `args.id`: the panel's copy, else the server's. */
  const byId = async (
    args: ReadonlyPartialJSONObject
  ): Promise<IWorkspace | null> => {
    const id = argId(args);
    return id ? (model.workspace(id) ?? (await client.getWorkspace(id))) : null;
  };

  /** The Workspace this tab edits, or a warning that there is none. */
  const requireOpen = (): IWorkspace | null => {
    const state = keeper.state;
    if (state.mode !== 'editing' || !state.workspace) {
      Notification.warning(trans.__('Open a Workspace you can edit first.'), {
        autoClose: 5000
      });
      return null;
    }
    return state.workspace;
  };

  // Where documents and kernels open in a Workspace are found (close, delete).
  const openSources: IOpenSources = {
    widgets: () => shell.widgets('main'),
    sessions: app.serviceManager.sessions
  };

  /** Settle what is open in the Workspace of this tab before releasing it. */
  const settleOpen = async (): Promise<boolean> => {
    const state = keeper.state;
    if (!state.workspace || !state.path) {
      return true;
    }
    const id = state.workspace.id;
    const { settleBeforeClose } = await import('./closing');
    return settleBeforeClose({
      sources: openSources,
      root: state.path,
      name: state.workspace.name,
      save: state.mode === 'editing',
      trans,
      report,
      reopened: undo => {
        const onState = () => {
          if (
            keeper.state.mode === 'editing' &&
            keeper.state.workspace?.id === id
          ) {
            undo();
            keeper.stateChanged.disconnect(onState);
          }
        };
        keeper.stateChanged.connect(onState);
      }
    });
  };

  /** Commands that act on one Workspace take its id as `id`. */
  const workspaceIdArgs = {
    args: {
      type: 'object' as const,
      properties: {
        id: { type: 'string', description: trans.__('The Workspace id') }
      },
      required: ['id']
    }
  };
  const noArgs = { args: { type: 'object' as const, properties: {} } };

  add(CommandIDs.showPanel, {
    describedBy: noArgs,
    label: trans.__('Show EMR Workspaces'),
    caption: trans.__('Show the EMR Workspaces side panel'),
    icon: emrWorkspaceIcon,
    execute: () => shell.activateById(deps.panelId)
  });

  add(CommandIDs.refresh, {
    describedBy: noArgs,
    label: trans.__('Refresh EMR Workspaces'),
    execute: async () => {
      // Errors land in the panel; the poll backs off on its own.
      await model.refresh().catch(() => undefined);
    }
  });

  add(CommandIDs.refreshClusters, {
    describedBy: noArgs,
    label: trans.__('Refresh Clusters'),
    execute: async () => {
      await model.refreshClusters().catch(() => undefined);
    }
  });

  add(CommandIDs.create, {
    describedBy: noArgs,
    label: trans.__('New EMR Workspace…'),
    isEnabled: () => !!model.studio && model.can(Actions.createWorkspace),
    execute: async () => {
      const { createWorkspaceDialog } = await import('./dialogs');
      const workspace = await createWorkspaceDialog(trans, request =>
        client.createWorkspace(request)
      );
      if (workspace) {
        model.upsert(workspace);
        Notification.success(
          trans.__('Created Workspace "%1".', workspace.name),
          { autoClose: 4000 }
        );
      }
      return workspace;
    }
  });

  add(CommandIDs.open, {
    describedBy: workspaceIdArgs,
    label: args =>
      args.id
        ? trans.__(
            'Open EMR Workspace %1',
            model.workspace(argId(args))?.name ?? argId(args)
          )
        : trans.__('Open EMR Workspace'),
    isEnabled: () =>
      keeper.state.mode !== 'opening' && keeper.state.mode !== 'closing',
    execute: workspaceCommand({
      find: byId,
      report,
      failure: () => trans.__('Could not open the Workspace:'),
      run: async workspace => {
        const state = await activity.track(
          trans.__(
            'Opening "%1": taking its lease and restoring its files…',
            workspace.name
          ),
          keeper.open(workspace)
        );
        if (state.mode === 'editing') {
          Notification.success(
            state.restored
              ? trans._n(
                  'Opened "%2"; restored %1 file from its backups.',
                  'Opened "%2"; restored %1 files from its backups.',
                  state.restored,
                  workspace.name
                )
              : trans.__('Opened "%1".', workspace.name),
            { autoClose: 4000 }
          );
          if (state.workspace) {
            model.upsert(state.workspace);
          }
          if (state.restoreError) {
            report(
              trans.__(
                'Opened "%1", but its files could not be restored from the backups:',
                workspace.name
              ),
              new Error(state.restoreError)
            );
          }
          if (state.conflicts) {
            Notification.warning(
              trans._n(
                '%1 file of "%2" changed both here and in its backup: both copies were kept.',
                '%1 files of "%2" changed both here and in their backups: both copies were kept.',
                state.conflicts,
                workspace.name
              ),
              { autoClose: false }
            );
          }
        } else if (state.mode === 'read-only') {
          Notification.warning(
            trans.__(
              '"%1" is in use by %2: opened read-only.',
              workspace.name,
              state.holder?.user ?? '?'
            ),
            { autoClose: 8000 }
          );
        }
        if (state.path) {
          try {
            await goTo(state.path);
          } catch (error) {
            report(
              trans.__('Could not show the folder of "%1":', workspace.name),
              error
            );
          }
        }
        void model.refresh().catch(() => undefined);
      }
    })
  });

  add(CommandIDs.close, {
    describedBy: noArgs,
    label: trans.__('Close EMR Workspace'),
    isEnabled: () =>
      keeper.state.mode === 'editing' || keeper.state.mode === 'read-only',
    execute: workspaceCommand({
      find: () => keeper.state.workspace,
      report,
      failure: workspace =>
        trans.__('Could not close "%1":', workspace?.name ?? ''),
      run: async workspace => {
        const mode = keeper.state.mode;
        const path = keeper.state.path;
        if (!(await settleOpen())) {
          return;
        }
        await activity.track(
          mode === 'editing'
            ? trans.__(
                'Closing "%1": backing up and releasing it…',
                workspace.name
              )
            : trans.__('Closing "%1"…', workspace.name),
          keeper.close()
        );
        // Leave the folder: the keeper forgot it, so ask the closed path.
        const { inFolder } = await import('./closing');
        if (browser && path && inFolder(browser.model.path, path)) {
          await browser.model.cd('/');
        }
        void model.refresh().catch(() => undefined);
      }
    })
  });

  add(CommandIDs.deleteWorkspace, {
    describedBy: workspaceIdArgs,
    label: trans.__('Delete EMR Workspace…'),
    isEnabled: args =>
      model.canOn(model.workspace(argId(args)), Actions.deleteWorkspace),
    execute: workspaceCommand({
      find: byId,
      report,
      failure: () => trans.__('Could not delete the Workspace:'),
      run: async workspace => {
        const id = workspace.id;
        const { deleteWorkspaceDialog, backupLocation } =
          await import('./dialogs');
        const { findOpen, describeOpen, closeOpen } = await import('./closing');
        const backupUri = model.studio?.backup_uri ?? '';
        const heldHere = () =>
          keeper.state.mode === 'editing' && keeper.state.workspace?.id === id;
        let choice: Awaited<ReturnType<typeof deleteWorkspaceDialog>>;
        let open = await findOpen(openSources, workspace.path ?? '');
        for (;;) {
          choice = await deleteWorkspaceDialog(trans, workspace, backupUri, {
            openText: workspace.path ? describeOpen(open, trans) : '',
            canBackUp: heldHere() && backupsOf(model.studio)?.enabled !== false
          });
          if (choice !== 'backup') {
            break;
          }
          // Save what is unsaved while the lease is held, then back up; ask again.
          const errors = await closeOpen(open, async () => undefined, {
            save: true,
            close: false,
            sessions: false
          });
          if (errors.length) {
            report(
              trans.__('Could not save before backing up:'),
              new Error(errors.join('; '))
            );
          }
          await commands.execute(CommandIDs.backupNow);
          open = await findOpen(openSources, workspace.path ?? '');
        }
        if (!choice) {
          return;
        }
        // Nothing may keep running in a folder that goes away.
        open = await findOpen(openSources, workspace.path ?? '');
        const stuck = await closeOpen(
          open,
          sessionId => openSources.sessions.shutdown(sessionId),
          { save: false, close: true }
        );
        if (stuck.length) {
          throw new Error(
            trans.__(
              'these kernels could not be shut down: %1',
              stuck.join('; ')
            )
          );
        }
        if (keeper.state.workspace?.id === id) {
          await keeper.close();
        }
        const deleted = await client.deleteWorkspace(id, choice);
        model.remove(id);
        // That Workspace's own prefix, `<backup_uri>/<id>/`, not the Studio's.
        const where = deleted.backup_uri || backupLocation(backupUri, id);
        Notification.success(
          choice.deleteNotebooks
            ? trans.__(
                'Deleted Workspace "%1" and its backups.',
                workspace.name
              )
            : where
              ? trans.__(
                  'Deleted Workspace "%1"; its backups stay in %2.',
                  workspace.name,
                  where
                )
              : trans.__('Deleted Workspace "%1".', workspace.name),
          { autoClose: 6000 }
        );
        void model.refresh().catch(() => undefined);
      }
    })
  });

  add(CommandIDs.forceRelease, {
    describedBy: workspaceIdArgs,
    label: trans.__('Force Release EMR Workspace…'),
    isEnabled: args =>
      model.canOn(model.workspace(argId(args)), Actions.forceRelease),
    execute: workspaceCommand({
      find: byId,
      report,
      failure: () => trans.__('Could not release the Workspace:'),
      run: async workspace => {
        const holders = (workspace.lock?.holders ?? [])
          .map(h => h.user)
          .join(', ');
        if (settings.confirmDialogs) {
          const { confirm } = await import('./dialogs');
          const sure = await confirm(
            trans,
            trans.__('Force release'),
            trans.__(
              'Release "%1" from %2? Their unsaved changes cannot be saved to it any more.',
              workspace.name,
              holders || trans.__('its holder')
            ),
            trans.__('Force release'),
            { warn: true }
          );
          if (!sure) {
            return;
          }
        }
        await client.forceRelease(workspace.id);
        Notification.success(trans.__('Released "%1".', workspace.name), {
          autoClose: 4000
        });
        void model.refresh().catch(() => undefined);
      }
    })
  });

  /** `args.id`, else the Workspace open in this tab. */
  const shareId = (args: ReadonlyPartialJSONObject) =>
    String(args.id ?? keeper.state.workspace?.id ?? '');
  add(CommandIDs.share, {
    describedBy: {
      args: {
        type: 'object',
        properties: {
          id: {
            type: 'string',
            description: trans.__(
              'The Workspace id (default: the one open in this tab)'
            )
          }
        }
      }
    },
    label: trans.__('Share EMR Workspace with Collaborators'),
    isEnabled: args => {
      const state = keeper.state;
      const id = shareId(args);
      const workspace = model.workspace(id) ?? state.workspace;
      return (
        state.mode === 'editing' &&
        !!workspace &&
        state.workspace?.id === id &&
        !!workspace.collaboration?.enabled &&
        model.canOn(workspace, Actions.shareWorkspace)
      );
    },
    execute: workspaceCommand({
      find: args => byId({ id: shareId(args) }),
      report,
      failure: () => trans.__('Could not share the Workspace:'),
      run: async workspace => {
        const result = await activity.track(
          trans.__('Sharing "%1" with its collaborators…', workspace.name),
          client.shareWorkspace(workspace.id)
        );
        const skipped = result.skipped ?? [];
        if (result.shared_with.length) {
          Notification.success(
            trans.__(
              'Shared "%1" with %2.',
              workspace.name,
              result.shared_with.join(', ')
            ),
            { autoClose: 6000 }
          );
        } else {
          Notification.info(
            trans.__(
              'No collaborator of "%1" to share it with.',
              workspace.name
            ),
            { autoClose: 6000 }
          );
        }
        if (skipped.length) {
          Notification.warning(
            trans.__(
              'Could not share "%1" with: %2',
              workspace.name,
              skipped.map(p => `${p.principal} (${p.reason})`).join('; ')
            ),
            { autoClose: false }
          );
        }
      }
    })
  });

  /** The cluster named by the attach command's arguments. */
  const clusterArgs = (args: ReadonlyPartialJSONObject) => {
    const type = String(args.type ?? 'local') as ClusterType;
    const clusterId = String(args.clusterId ?? '');
    const endpointId = args.endpointId ? String(args.endpointId) : '';
    const executionRoleArn = args.executionRoleArn
      ? String(args.executionRoleArn)
      : undefined;
    const label = clusterName(model.clusters, type, clusterId, endpointId);
    return { type, clusterId, endpointId, executionRoleArn, label };
  };
  add(CommandIDs.attach, {
    describedBy: {
      args: {
        type: 'object',
        properties: {
          type: {
            type: 'string',
            description: trans.__(
              'The cluster source, as GET /clusters lists it (local, emr-ec2, emr-eks, ...)'
            )
          },
          clusterId: {
            type: 'string',
            description: trans.__('The cluster id')
          },
          endpointId: {
            type: 'string',
            description: trans.__('EMR on EKS: the managed endpoint id')
          },
          executionRoleArn: {
            type: 'string',
            description: trans.__(
              'The IAM role its Spark runs as (EMR Serverless; EMR on EC2 runtime roles)'
            )
          }
        },
        required: ['clusterId']
      }
    },
    label: args =>
      args.clusterId
        ? trans.__('Attach to %1', String(args.clusterId))
        : trans.__('Attach EMR Workspace to a Cluster'),
    isEnabled: () =>
      keeper.state.mode === 'editing' &&
      model.canOn(keeper.state.workspace, Actions.attach),
    execute: workspaceCommand({
      find: args => (args.clusterId ? requireOpen() : null),
      report,
      failure: (workspace, args) =>
        trans.__(
          'Could not attach "%1" to %2:',
          workspace?.name ?? '',
          clusterArgs(args).label
        ),
      run: async (workspace, args) => {
        const { type, clusterId, endpointId, executionRoleArn, label } =
          clusterArgs(args);
        const updated = await activity.track(
          trans.__('Attaching "%1" to %2…', workspace.name, label),
          client.attach(workspace.id, {
            type,
            cluster_id: clusterId,
            endpoint_id: endpointId || undefined,
            execution_role_arn: executionRoleArn
          })
        );
        const { running_kernels: running, ...attached } = updated;
        keeper.updateWorkspace(attached);
        model.upsert(attached);
        // A stopped application starts on attach: show its state until ready.
        model.follow(type, clusterId);
        Notification.success(
          trans.__('Attached "%1" to %2.', workspace.name, label),
          { autoClose: 4000 }
        );
        if (running && running > 0) {
          const { confirm } = await import('./dialogs');
          const restart = await confirm(
            trans,
            trans.__('Restart kernels?'),
            trans._n(
              '%1 kernel running in this Workspace still talks to the previous cluster. Restart it now to use %2?',
              '%1 kernels running in this Workspace still talk to the previous cluster. Restart them now to use %2?',
              running,
              label
            ),
            trans.__('Restart')
          );
          if (restart) {
            await activity.track(
              trans.__('Restarting kernels…'),
              client.restartKernels(workspace.id)
            );
          }
        }
      }
    })
  });

  // Attach with an execution role (EMR Serverless; EMR on EC2 runtime roles).
  disposables.add(
    addExecutionRoleCommand(
      commands,
      client,
      () => keeper.state.workspace ?? null,
      trans
    )
  );

  add(CommandIDs.detach, {
    describedBy: noArgs,
    label: trans.__('Detach EMR Workspace from its Cluster'),
    isEnabled: () =>
      keeper.state.mode === 'editing' &&
      !!keeper.state.workspace?.attachment &&
      model.canOn(keeper.state.workspace, Actions.detach),
    execute: workspaceCommand({
      find: requireOpen,
      report,
      failure: workspace =>
        trans.__('Could not detach "%1":', workspace?.name ?? ''),
      run: async workspace => {
        if (settings.confirmDialogs) {
          const { confirm } = await import('./dialogs');
          const sure = await confirm(
            trans,
            trans.__('Detach'),
            trans.__(
              'Detach "%1" from %2? Spark kernels in it lose their cluster.',
              workspace.name,
              attachmentName(workspace.attachment, model.clusters)
            ),
            trans.__('Detach')
          );
          if (!sure) {
            return;
          }
        }
        const updated = await client.detach(workspace.id);
        keeper.updateWorkspace(updated);
        model.upsert(updated);
      }
    })
  });

  add(CommandIDs.backupNow, {
    describedBy: noArgs,
    label: trans.__('Back Up EMR Workspace Now'),
    isEnabled: () => keeper.state.mode === 'editing' && !backup.busy,
    execute: workspaceCommand({
      find: requireOpen,
      report,
      failure: workspace =>
        trans.__('Could not back up "%1":', workspace?.name ?? ''),
      run: async workspace => {
        const status = await backup.backupNow();
        if (status && (status.failed?.length || status.last_error)) {
          report(
            trans.__('Some files of "%1" were not backed up:', workspace.name),
            new Error(
              status.last_error ??
                status.failed.map(f => `${f.path}: ${f.error}`).join('; ')
            )
          );
        } else {
          Notification.success(trans.__('Backed up "%1".', workspace.name), {
            autoClose: 3000
          });
        }
      }
    })
  });

  add(CommandIDs.createCluster, {
    describedBy: noArgs,
    label: trans.__('Create EMR Cluster from a Template…'),
    isEnabled: () => model.can(Actions.createCluster),
    execute: async () => {
      try {
        let templates = model.templates;
        if (templates.length === 0) {
          templates = await client.listTemplates();
        }
        if (templates.length === 0) {
          Notification.info(trans.__('This Studio has no cluster templates.'), {
            autoClose: 5000
          });
          return;
        }
        const { createClusterDialog } = await import('./dialogs');
        const cluster = await createClusterDialog(trans, templates, request =>
          activity.track(
            trans.__('Creating cluster "%1"…', request.name),
            client.createCluster(request)
          )
        );
        if (cluster) {
          Notification.success(
            trans.__(
              'Cluster "%1" (%2) is starting; it can be attached once it is ready.',
              cluster.name,
              cluster.id
            ),
            { autoClose: 8000 }
          );
          void model.refreshClusters().catch(() => undefined);
        }
      } catch (error) {
        report(trans.__('Could not create the cluster:'), error);
      }
    }
  });

  return disposables;
}

/**
 * The commands shown in the command palette.
 */
export const PALETTE_COMMANDS = [
  CommandIDs.showPanel,
  CommandIDs.refresh,
  CommandIDs.create,
  CommandIDs.close,
  CommandIDs.backupNow,
  CommandIDs.detach,
  CommandIDs.share,
  CommandIDs.createCluster
];

function argId(args: ReadonlyPartialJSONObject): string {
  return String(args.id ?? '');
}
