// @ts-check
/*
 * The visitor widget's loader. Embed it with one tag:
 *   <script src="https://chat.example/widget.js" data-org="<org id>" data-room="<room id>" async></script>
 * It loads the widget's module from the same server and mounts the launcher.
 */
(function () {
  const script = /** @type {HTMLScriptElement | null} */ (document.currentScript);
  if (!script) return;
  const base = new URL('.', script.src).href.replace(/\/$/, '');
  const org = script.dataset.org;
  const room = script.dataset.room;
  if (!org || !room) {
    console.error('chat widget: the script tag needs data-org and data-room');
    return;
  }
  import(base + '/web/widget-app.js')
    .then((widget) => widget.mount({ base, org, room, title: script.dataset.title }))
    .catch((e) => console.error('chat widget: cannot load', e));
})();
