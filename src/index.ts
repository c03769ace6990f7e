import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { DocumentWidget } from '@jupyterlab/docregistry';
import { DirListing, IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';

import { Signal } from '@lumino/signaling';

import { EmrWorkspaceClient } from './api';
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
// The commands are registered at activation.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { addCommands, errorReporter, PALETTE_COMMANDS } from './commands';
// Executions (issue 13): the model the panel shows, and its commands.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import {
  addExecutionCommands,
  ExecutionCommandIDs,
  runToolbarButton
} from './executions';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { ExecutionsModel } from './executionsPanel';
// Small: labels Workspace folders from activation on.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import {
  IItemRenderer,
  labelFolders,
  labelListing,
  TabCaptions,
  WorkspaceNames
} from './names';
import { PLUGIN_ID } from './tokens';
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

    // Executions of the open Workspace (issue 13).
    const executions = new ExecutionsModel({ client });
    keeper.stateChanged.connect((_, state) => {
      executions.workspaceId =
        state.mode === 'editing' || state.mode === 'read-only'
          ? (state.workspace?.id ?? null)
          : null;
    });

    // The side panel.
    const panel = new EmrWorkspacePanel({
      model,
      keeper,
      activity,
      commands,
      trans,
      executions
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
    saves.watchSaveCommand(app.commands, () => app.shell.currentWidget);

    // Names, not ids: Workspace folders are shown by the Workspace's name.
    const names = new WorkspaceNames({
      list: () => model.workspaces,
      changed: model.changed,
      trans
    });
    // The default renderer draws the file browser and the file dialogs.
    const listing = (browser as unknown as { listing?: DirListing } | null)
      ?.listing;
    const renderers = new Set<IItemRenderer>([DirListing.defaultRenderer]);
    if (listing?.renderer) {
      renderers.add(listing.renderer);
    }
    for (const renderer of renderers) {
      labelListing(renderer, names);
    }
    names.changed.connect(() => listing?.update());
    labelFolders(document.body, names);
    const captions = new TabCaptions(names);
    const captioned = new Set<string>();
    const addCaptions = () => {
      for (const factory of app.docRegistry.widgetFactories()) {
        if (!captioned.has(factory.name)) {
          captioned.add(factory.name);
          app.docRegistry.addWidgetExtension(factory.name, captions);
        }
      }
    };
    addCaptions();
    app.docRegistry.changed.connect((_, change) => {
      if (change.type === 'widgetFactory' && change.change === 'added') {
        addCaptions();
      }
    });

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

    // Commands (src/commands.ts) and the palette.
    addCommands(app, {
      client,
      model,
      keeper,
      backup,
      activity,
      trans,
      settings,
      panelId: panel.id,
      browser
    });
    if (palette) {
      const category = trans.__('EMR Workspaces');
      for (const command of PALETTE_COMMANDS) {
        palette.addItem({ command, category });
      }
      palette.addItem({ command: ExecutionCommandIDs.run, category });
    }

    // Run with Parameters… (issue 13): palette, file browser, notebook toolbar.
    const currentPath = () => {
      const context = (shell.currentWidget as any)?.context;
      return typeof context?.path === 'string' ? context.path : null;
    };
    addExecutionCommands(commands, {
      client,
      keeper,
      executions,
      trans,
      contents: app.serviceManager.contents,
      currentPath,
      selectedPath: () => browser?.selectedItems().next()?.value?.path ?? null,
      showExecutions: () => {
        shell.activateById(panel.id);
        document
          .getElementById('jp-EmrWorkspace-executions')
          ?.scrollIntoView({ block: 'nearest' });
      },
      canOn: (workspace, action) => model.canOn(workspace, action),
      report: errorReporter(trans)
    });
    app.contextMenu.addItem({
      command: ExecutionCommandIDs.run,
      args: { from: 'browser' },
      selector: '.jp-DirListing-item[data-file-type="notebook"]',
      rank: 60
    });
    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (widget: DocumentWidget) => {
        const button = runToolbarButton(commands, widget.context, trans);
        widget.toolbar.insertAfter('cellType', 'emrRunWithParameters', button);
        return button;
      }
    });

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
