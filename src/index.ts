import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';

import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Signal } from '@lumino/signaling';

import {
  Actions,
  backupsOf,
  ClusterType,
  EmrWorkspaceClient,
  IWorkspace
} from './api';
// The panel, status item and banner are built at activation.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { ReadOnlyBanner, ReadOnlyDocumentExtension } from './banner';
import { setApiTranslationBundle } from './handler';
import { emrWorkspaceIcon } from './icons';
import {
  ActivityModel,
  BackupMonitor,
  LeaseKeeper,
  WorkspaceListModel
} from './models';
// The panel, status item and banner are built at activation.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { EmrWorkspacePanel } from './panel';
// The panel, status item and banner are built at activation.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { WorkspaceStatus } from './status';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { RefusedSaveWatcher } from './saves';
import type { IOpenSources } from './closing';
import { CommandIDs, PLUGIN_ID } from './tokens';
// Small and already loaded by the panel and status item.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { attachmentName, clusterName } from './words';
// Registered at activation, and already loaded by the panel (its attach buttons).
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { addExecutionRoleCommand } from './serverless';
import { FRONTEND_VERSION } from './version';

export * from './api';
export * from './handler';
export * from './models';
export * from './tokens';

/**
 * User settings (`schema/plugin.json`).
 */
interface ISettings {
  refreshInterval: number;
  openOnStart: boolean;
  confirmDialogs: boolean;
}

const DEFAULTS: ISettings = {
  refreshInterval: 30,
  openOnStart: true,
  confirmDialogs: true
};

/**
 * Show an error with its message; errors are never swallowed.
 */
function reportError(what: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  console.error(what, error);
  Notification.error(`${what} ${message}`, { autoClose: false });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Amazon EMR Studio Workspaces: a side panel for Workspaces, their lease and backups, and the clusters they attach to.',
  autoStart: true,
  optional: [
    ISettingRegistry,
    ITranslator,
    IDefaultFileBrowser,
    IStatusBar,
    ICommandPalette,
    ILayoutRestorer
  ],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    browser: IDefaultFileBrowser | null,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const trans: TranslationBundle = (translator ?? nullTranslator).load(
      'jupyter_emr_workspace'
    );
    setApiTranslationBundle(trans);
    const settings: ISettings = { ...DEFAULTS };
    const client = new EmrWorkspaceClient({
      serverSettings: app.serviceManager.serverSettings
    });
    const model = new WorkspaceListModel({
      client,
      frontendVersion: FRONTEND_VERSION,
      refreshInterval: settings.refreshInterval * 1000,
      autoStart: false,
      mismatchMessage: (server, frontend) =>
        trans.__(
          'jupyter-emr-workspace server extension %1 and frontend %2 do not match: reinstall the package and restart JupyterLab.',
          server,
          frontend
        )
    });
    const keeper = new LeaseKeeper({ client });
    const backup = new BackupMonitor({ client });
    const activity = new ActivityModel();
    const { commands, shell } = app;

    // The version handshake: one message, then nothing else talks to the server.
    let fatalShown = false;
    model.changed.connect(() => {
      if (model.fatal && !fatalShown) {
        fatalShown = true;
        backup.dispose();
        Notification.error(model.fatal, { autoClose: false });
      }
      const studio = model.studio;
      if (studio?.heartbeat_seconds) {
        keeper.heartbeatInterval = studio.heartbeat_seconds * 1000;
      }
    });

    keeper.stateChanged.connect((_, state) => {
      backup.watch(state.mode === 'editing' ? state.workspace!.id : null);
      commands.notifyCommandChanged();
    });
    keeper.leaseLost.connect((_, state) => {
      Notification.warning(
        state.holder?.user
          ? trans.__(
              'You lost the lease on Workspace "%1": %2 took it over. It is read-only now; copy your unsaved changes elsewhere.',
              state.workspace?.name ?? '',
              state.holder.user
            )
          : trans.__(
              'You lost the lease on Workspace "%1": someone else took it over. It is read-only now; copy your unsaved changes elsewhere.',
              state.workspace?.name ?? ''
            ),
        { autoClose: false }
      );
      void model.refresh();
    });

    // The side panel.
    const panel = new EmrWorkspacePanel({
      model,
      keeper,
      activity,
      commands,
      trans
    });
    panel.id = 'jp-emr-workspace-panel';
    panel.title.icon = emrWorkspaceIcon;
    panel.title.caption = trans.__('EMR Workspaces');
    panel.node.setAttribute('aria-label', trans.__('EMR Workspaces'));
    shell.add(panel, 'left', { rank: 350 });
    restorer?.add(panel, 'emr-workspace');

    // The read-only banner: above the file browser and in documents.
    if (browser) {
      const banner = new ReadOnlyBanner(keeper, trans, () =>
        keeper.contains(browser.model.path)
      );
      browser.header.addWidget(banner);
      // Re-evaluate when the user browses in or out of the Workspace.
      browser.model.pathChanged.connect(() => banner.refresh());
    }
    const docExtension = new ReadOnlyDocumentExtension(keeper, trans);
    app.docRegistry.addWidgetExtension('Notebook', docExtension);
    app.docRegistry.addWidgetExtension('Editor', docExtension);
    // A save refused in a Workspace is always said (collaboration drops it silently).
    const saves = new RefusedSaveWatcher({ keeper, model, client, trans });
    app.docRegistry.addWidgetExtension('Notebook', saves);
    app.docRegistry.addWidgetExtension('Editor', saves);

    // The status bar item.
    if (statusBar) {
      const activeChanged = new Signal<LeaseKeeper, void>(keeper);
      keeper.stateChanged.connect(() => activeChanged.emit());
      statusBar.registerStatusItem(`${PLUGIN_ID}:status`, {
        item: new WorkspaceStatus({
          keeper,
          backup,
          commands,
          trans,
          model,
          currentPath: () => {
            const context = (shell.currentWidget as any)?.context;
            return typeof context?.path === 'string' ? context.path : null;
          },
          currentChanged: shell.currentChanged
        }),
        align: 'left',
        rank: 4,
        isActive: () => keeper.state.mode !== 'closed',
        activeStateChanged: activeChanged
      });
    }

    const goTo = async (path: string) => {
      if (!browser) {
        return;
      }
      await browser.model.cd('/' + path.replace(/^\/+/, ''));
      shell.activateById(browser.id);
    };

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
        report: reportError,
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

    const findWorkspace = async (id: string): Promise<IWorkspace> =>
      model.workspace(id) ?? (await client.getWorkspace(id));

    // Commands.
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
    const argId = (args: ReadonlyPartialJSONObject): string =>
      String(args.id ?? '');

    commands.addCommand(CommandIDs.showPanel, {
      describedBy: { args: { type: 'object', properties: {} } },
      label: trans.__('Show EMR Workspaces'),
      caption: trans.__('Show the EMR Workspaces side panel'),
      icon: emrWorkspaceIcon,
      execute: () => shell.activateById(panel.id)
    });

    commands.addCommand(CommandIDs.refresh, {
      describedBy: { args: { type: 'object', properties: {} } },
      label: trans.__('Refresh EMR Workspaces'),
      execute: async () => {
        // Errors land in the panel; the poll backs off on its own.
        await model.refresh().catch(() => undefined);
      }
    });

    commands.addCommand(CommandIDs.refreshClusters, {
      describedBy: { args: { type: 'object', properties: {} } },
      label: trans.__('Refresh Clusters'),
      execute: async () => {
        await model.refreshClusters().catch(() => undefined);
      }
    });

    commands.addCommand(CommandIDs.create, {
      describedBy: { args: { type: 'object', properties: {} } },
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

    commands.addCommand(CommandIDs.open, {
      describedBy: workspaceIdArgs,
      label: args =>
        args.id
          ? trans.__('Open EMR Workspace %1', String(args.id))
          : trans.__('Open EMR Workspace'),
      isEnabled: () =>
        keeper.state.mode !== 'opening' && keeper.state.mode !== 'closing',
      execute: async args => {
        const id = argId(args);
        if (!id) {
          return;
        }
        try {
          const workspace = await findWorkspace(id);
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
              reportError(
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
              reportError(
                trans.__('Could not show the folder of "%1":', workspace.name),
                error
              );
            }
          }
          void model.refresh().catch(() => undefined);
        } catch (error) {
          reportError(trans.__('Could not open the Workspace:'), error);
        }
      }
    });

    commands.addCommand(CommandIDs.close, {
      describedBy: { args: { type: 'object', properties: {} } },
      label: trans.__('Close EMR Workspace'),
      isEnabled: () =>
        keeper.state.mode === 'editing' || keeper.state.mode === 'read-only',
      execute: async () => {
        const state = keeper.state;
        const name = state.workspace?.name ?? '';
        const path = state.path;
        try {
          if (!(await settleOpen())) {
            return;
          }
          await activity.track(
            state.mode === 'editing'
              ? trans.__('Closing "%1": backing up and releasing it…', name)
              : trans.__('Closing "%1"…', name),
            keeper.close()
          );
          if (browser && path && keeper.contains(browser.model.path)) {
            await browser.model.cd('/');
          }
          void model.refresh().catch(() => undefined);
        } catch (error) {
          reportError(trans.__('Could not close "%1":', name), error);
        }
      }
    });

    commands.addCommand(CommandIDs.deleteWorkspace, {
      describedBy: workspaceIdArgs,
      label: trans.__('Delete EMR Workspace…'),
      isEnabled: args =>
        model.canOn(model.workspace(argId(args)), Actions.deleteWorkspace),
      execute: async args => {
        const id = argId(args);
        if (!id) {
          return;
        }
        try {
          const workspace = await findWorkspace(id);
          const { deleteWorkspaceDialog, backupLocation } =
            await import('./dialogs');
          const { findOpen, describeOpen, closeOpen } =
            await import('./closing');
          const backupUri = model.studio?.backup_uri ?? '';
          const heldHere = () =>
            keeper.state.mode === 'editing' &&
            keeper.state.workspace?.id === id;
          let choice: Awaited<ReturnType<typeof deleteWorkspaceDialog>>;
          let open = await findOpen(openSources, workspace.path ?? '');
          for (;;) {
            choice = await deleteWorkspaceDialog(trans, workspace, backupUri, {
              openText: workspace.path ? describeOpen(open, trans) : '',
              canBackUp:
                heldHere() && backupsOf(model.studio)?.enabled !== false
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
              reportError(
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
            sessionId => app.serviceManager.sessions.shutdown(sessionId),
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
        } catch (error) {
          reportError(trans.__('Could not delete the Workspace:'), error);
        }
      }
    });

    commands.addCommand(CommandIDs.forceRelease, {
      describedBy: workspaceIdArgs,
      label: trans.__('Force Release EMR Workspace…'),
      isEnabled: args =>
        model.canOn(model.workspace(argId(args)), Actions.forceRelease),
      execute: async args => {
        const id = argId(args);
        if (!id) {
          return;
        }
        try {
          const workspace = await findWorkspace(id);
          const { confirm } = await import('./dialogs');
          const holders = (workspace.lock?.holders ?? [])
            .map(h => h.user)
            .join(', ');
          if (
            settings.confirmDialogs &&
            !(await confirm(
              trans,
              trans.__('Force release'),
              trans.__(
                'Release "%1" from %2? Their unsaved changes cannot be saved to it any more.',
                workspace.name,
                holders || trans.__('its holder')
              ),
              trans.__('Force release'),
              { warn: true }
            ))
          ) {
            return;
          }
          await client.forceRelease(id);
          Notification.success(trans.__('Released "%1".', workspace.name), {
            autoClose: 4000
          });
          void model.refresh().catch(() => undefined);
        } catch (error) {
          reportError(trans.__('Could not release the Workspace:'), error);
        }
      }
    });

    commands.addCommand(CommandIDs.share, {
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
        const id = String(args.id ?? state.workspace?.id ?? '');
        const workspace = model.workspace(id) ?? state.workspace;
        return (
          state.mode === 'editing' &&
          !!workspace &&
          state.workspace?.id === id &&
          !!workspace.collaboration?.enabled &&
          model.canOn(workspace, Actions.shareWorkspace)
        );
      },
      execute: async args => {
        const id = String(args.id ?? keeper.state.workspace?.id ?? '');
        if (!id) {
          return;
        }
        try {
          const workspace = await findWorkspace(id);
          const result = await activity.track(
            trans.__('Sharing "%1" with its collaborators…', workspace.name),
            client.shareWorkspace(id)
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
        } catch (error) {
          reportError(trans.__('Could not share the Workspace:'), error);
        }
      }
    });

    commands.addCommand(CommandIDs.attach, {
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
      execute: async args => {
        const workspace = requireOpen();
        const clusterId = String(args.clusterId ?? '');
        if (!workspace || !clusterId) {
          return;
        }
        const type = String(args.type ?? 'local') as ClusterType;
        const endpointId = args.endpointId ? String(args.endpointId) : '';
        const clusterLabel = clusterName(
          model.clusters,
          type,
          clusterId,
          endpointId
        );
        try {
          const updated = await activity.track(
            trans.__('Attaching "%1" to %2…', workspace.name, clusterLabel),
            client.attach(workspace.id, {
              type,
              cluster_id: clusterId,
              endpoint_id: endpointId || undefined,
              execution_role_arn: args.executionRoleArn
                ? String(args.executionRoleArn)
                : undefined
            })
          );
          const { running_kernels: running, ...attached } = updated;
          keeper.updateWorkspace(attached);
          model.upsert(attached);
          Notification.success(
            trans.__('Attached "%1" to %2.', workspace.name, clusterLabel),
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
                clusterLabel
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
        } catch (error) {
          reportError(
            trans.__(
              'Could not attach "%1" to %2:',
              workspace.name,
              clusterLabel
            ),
            error
          );
        }
      }
    });

    addExecutionRoleCommand(
      commands,
      client,
      () => keeper.state.workspace ?? null,
      trans
    );
    commands.addCommand(CommandIDs.detach, {
      describedBy: { args: { type: 'object', properties: {} } },
      label: trans.__('Detach EMR Workspace from its Cluster'),
      isEnabled: () =>
        keeper.state.mode === 'editing' &&
        !!keeper.state.workspace?.attachment &&
        model.canOn(keeper.state.workspace, Actions.detach),
      execute: async () => {
        const workspace = requireOpen();
        if (!workspace) {
          return;
        }
        try {
          const { confirm } = await import('./dialogs');
          if (
            settings.confirmDialogs &&
            !(await confirm(
              trans,
              trans.__('Detach'),
              trans.__(
                'Detach "%1" from %2? Spark kernels in it lose their cluster.',
                workspace.name,
                attachmentName(workspace.attachment, model.clusters)
              ),
              trans.__('Detach')
            ))
          ) {
            return;
          }
          const updated = await client.detach(workspace.id);
          keeper.updateWorkspace(updated);
          model.upsert(updated);
        } catch (error) {
          reportError(
            trans.__('Could not detach "%1":', workspace.name),
            error
          );
        }
      }
    });

    commands.addCommand(CommandIDs.backupNow, {
      describedBy: { args: { type: 'object', properties: {} } },
      label: trans.__('Back Up EMR Workspace Now'),
      isEnabled: () => keeper.state.mode === 'editing' && !backup.busy,
      execute: async () => {
        const workspace = requireOpen();
        if (!workspace) {
          return;
        }
        try {
          const status = await backup.backupNow();
          if (status && (status.failed?.length || status.last_error)) {
            reportError(
              trans.__(
                'Some files of "%1" were not backed up:',
                workspace.name
              ),
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
        } catch (error) {
          reportError(
            trans.__('Could not back up "%1":', workspace.name),
            error
          );
        }
      }
    });

    commands.addCommand(CommandIDs.createCluster, {
      describedBy: { args: { type: 'object', properties: {} } },
      label: trans.__('Create EMR Cluster from a Template…'),
      isEnabled: () => model.can(Actions.createCluster),
      execute: async () => {
        try {
          let templates = model.templates;
          if (templates.length === 0) {
            templates = await client.listTemplates();
          }
          if (templates.length === 0) {
            Notification.info(
              trans.__('This Studio has no cluster templates.'),
              { autoClose: 5000 }
            );
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
          reportError(trans.__('Could not create the cluster:'), error);
        }
      }
    });

    if (palette) {
      const category = trans.__('EMR Workspaces');
      for (const command of [
        CommandIDs.showPanel,
        CommandIDs.refresh,
        CommandIDs.create,
        CommandIDs.close,
        CommandIDs.backupNow,
        CommandIDs.detach,
        CommandIDs.share,
        CommandIDs.createCluster
      ]) {
        palette.addItem({ command, category });
      }
    }

    // Settings, then start polling.
    const applySettings = (loaded: ISettingRegistry.ISettings | null) => {
      const composite = (loaded?.composite ?? {}) as Partial<ISettings>;
      settings.refreshInterval =
        composite.refreshInterval ?? DEFAULTS.refreshInterval;
      settings.openOnStart = composite.openOnStart ?? DEFAULTS.openOnStart;
      settings.confirmDialogs =
        composite.confirmDialogs ?? DEFAULTS.confirmDialogs;
      model.refreshInterval = settings.refreshInterval * 1000;
    };
    const loading = settingRegistry
      ? settingRegistry
          .load(PLUGIN_ID)
          .then(loaded => {
            applySettings(loaded);
            loaded.changed.connect(() => applySettings(loaded));
          })
          .catch(error => {
            console.warn(
              'jupyter-emr-workspace: settings could not be loaded; using defaults.',
              error
            );
          })
      : Promise.resolve();

    void Promise.all([loading, app.restored]).then(() => {
      void model.start();
      if (settings.openOnStart) {
        shell.activateById(panel.id);
      }
    });

    // Release the lease when the page goes away (the keeper listens to
    // `beforeunload` too; this covers the app being disposed).
    app.restored.then(() => {
      window.addEventListener('unload', () => keeper.dispose());
    });
  }
};

export default plugin;
