/// The HTML report's page: its frame, style and script, as strings compiled into the binary (no
/// resource lookup at run time, so a statically linked binary carries them).
///
/// The script renders everything but the summary and findings from the JSON block `#data`, with
/// DOM calls only (`textContent`, `setAttribute`): no captured text is ever parsed as HTML. It
/// renders lazily (sessions page by page as the list is scrolled, a session's timeline when it is
/// opened), reads the filter from the URL fragment (`#q=…&outcome=…&finding=…`, `#session=N`,
/// `#intercept=N`), and writes any script error or Content-Security-Policy violation into
/// `#errors`, so a test reading the rendered DOM sees them.
enum HTMLTemplate {
    static func head(title: String, csp: String, style: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="\(csp)">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <title>\(title)</title>
        <style>\(style)</style>
        </head>

        """
    }

    static func body(header: String, summary: String, findings: String) -> String {
        """
        <body>
        <header>\(header)</header>
        <pre id="errors" hidden></pre>
        <section id="summary">\(summary)</section>
        <section id="findings"><h2>Findings</h2>\(findings)<div id="notes"></div></section>
        <noscript><p class="none">The intercepted connections, the chart and the sessions are drawn by the page's script: allow scripts for this file to see them.</p></noscript>
        <section id="intercepts" hidden><h2>Intercepted connections</h2><div id="intercept-list"></div></section>
        <section id="chart"><h2>Sessions over the capture</h2><div id="chart-box"></div></section>
        <section id="sessions"><h2>Sessions</h2>
        <form id="filter" autocomplete="off"><label>address <input type="search" id="f-q" placeholder="IP, HELO name or mail address"></label>
        <label>outcome <select id="f-outcome"><option value="">any</option><option>queued</option><option>rejected</option><option>reset</option><option>abandoned</option><option>incomplete</option><option value="none">no transaction</option></select></label>
        <label>finding <select id="f-finding"><option value="">any</option></select></label>
        <a href="#" id="f-clear">clear</a></form>
        <p id="count"></p>
        <div id="session-list"></div>
        <p id="more" hidden><button type="button" id="more-button">show more</button></p>
        </section>

        """
    }

    static let style = #"""
    :root{--fg:#1f2328;--dim:#656d76;--line:#d0d7de;--bg:#fff;--soft:#f6f8fa;--relayed:#57606a;--injected:#8250df;--synthesized:#d4540b;--withheld:#cf222e;--rewritten:#b08800;--held:#0969da;--divergent:#a40e26;--queued:#1a7f37;--rejected:#cf222e;--reset:#b08800;--abandoned:#8c959f;--incomplete:#8c959f}
    *{box-sizing:border-box}
    body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;padding:12px 20px 40px;max-width:1240px}
    h1{font-size:20px;margin:4px 0}h2{font-size:16px;margin:22px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
    code,.mono,.tl td.text,svg text{font-family:ui-monospace,"DejaVu Sans Mono","Liberation Mono",Menlo,Consolas,monospace}
    .meta,.hint,.ref,.dim{color:var(--dim)}.hint{font-size:12px}.ref{font-size:12px}
    a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}
    #errors{background:#ffebe9;border:1px solid var(--withheld);padding:8px;white-space:pre-wrap}
    .chip{display:inline-block;border-radius:10px;padding:0 7px;font-size:12px;border:1px solid currentColor;margin:0 2px;white-space:nowrap}
    .o-queued{color:var(--queued)}.o-rejected{color:var(--rejected)}.o-reset{color:var(--reset)}.o-abandoned,.o-incomplete{color:var(--abandoned)}
    table.findings{border-collapse:collapse;width:100%}table.findings td,table.findings th{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
    td.num{text-align:right}.sev{font-size:12px;font-weight:600}
    .sev-problem .sev,.badge.problem{color:var(--withheld)}.sev-warning .sev,.badge.warning{color:#9a6700}.sev-info .sev,.badge.info{color:var(--dim)}
    .badge{font-size:12px;margin-left:6px;white-space:nowrap}
    .intercept{border:1px solid var(--line);border-radius:6px;padding:8px 12px;margin:10px 0}
    .intercept>summary{cursor:pointer;font-weight:600}
    .verdict{font-size:15px;margin:8px 0}.verdict b{color:var(--withheld)}
    .legend{font-size:12px;margin:6px 0}.legend span{margin-right:12px;white-space:nowrap}.legend i{display:inline-block;width:18px;height:4px;vertical-align:middle;margin-right:4px}
    .k-relayed{color:var(--relayed)}.k-injected{color:var(--injected)}.k-synthesized{color:var(--synthesized)}.k-withheld{color:var(--withheld)}.k-rewritten{color:var(--rewritten)}.k-held{color:var(--held)}.k-divergent{color:var(--divergent)}
    i.k-relayed{background:var(--relayed)}i.k-injected{background:var(--injected)}i.k-synthesized{background:var(--synthesized)}i.k-withheld{background:var(--withheld)}i.k-rewritten{background:var(--rewritten)}i.k-held{background:var(--held)}i.k-divergent{background:var(--divergent)}
    .ladder-wrap{overflow-x:auto}
    svg.ladder{display:block;background:#fff;max-width:100%;height:auto}
    svg.ladder text{font-size:12px;fill:var(--fg)}
    svg.ladder text.head{font-weight:600;font-size:13px}svg.ladder text.sub,svg.ladder text.time,svg.ladder text.note{fill:var(--dim)}svg.ladder text.note{font-size:11px;font-style:italic}
    svg.ladder line.life{stroke:#8c959f;stroke-width:1.5}svg.ladder line.life.mb{stroke-dasharray:4 3}
    svg.ladder .hold{fill:var(--held);opacity:.18}
    svg.ladder .gapband{fill:var(--soft)}svg.ladder text.gap{fill:var(--dim);font-style:italic}
    svg.ladder rect.pill{fill:#fff;stroke-width:1.2}
    svg.ladder text.pill{font-size:11px;font-weight:600}
    svg.ladder rect.band{fill:#ffebe9;stroke:var(--divergent)}
    g.arrow.relayed{stroke:var(--relayed);fill:var(--relayed)}g.arrow.injected{stroke:var(--injected);fill:var(--injected)}g.arrow.synthesized{stroke:var(--synthesized);fill:var(--synthesized)}g.arrow.withheld{stroke:var(--withheld);fill:var(--withheld)}g.arrow.rewritten{stroke:var(--rewritten);fill:var(--rewritten)}g.arrow.held,g.arrow.released{stroke:var(--held);fill:var(--held)}g.arrow.divergent{stroke:var(--divergent);fill:var(--divergent)}
    g.arrow line{stroke-width:2}g.arrow line.dash{stroke-dasharray:6 4}g.arrow line.thin{stroke-width:1.2;stroke-dasharray:3 3}g.arrow text{stroke:none}
    g.arrow text.pill{fill:inherit}g.arrow rect.pill{stroke:inherit}
    #filter{display:flex;flex-wrap:wrap;gap:12px;align-items:center;background:var(--soft);padding:8px;border-radius:6px}
    #filter input{width:260px}
    details.session{border-bottom:1px solid var(--line)}
    details.session>summary{cursor:pointer;padding:4px 2px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
    details.session[open]>summary{background:var(--soft)}
    .sbody{padding:6px 0 12px 18px}
    table.tl{border-collapse:collapse;font-size:12.5px;width:100%}
    table.tl td{padding:1px 6px;vertical-align:top}
    table.tl td.time{color:var(--dim);text-align:right;white-space:nowrap;width:70px}
    table.tl td.side{width:18px;font-weight:600;color:var(--dim)}
    table.tl td.text{white-space:pre-wrap;word-break:break-all}
    table.tl td.lat{color:var(--dim);white-space:nowrap;text-align:right;width:70px}
    table.tl tr.r td.text{padding-left:30px}
    table.tl tr.c4 td.text{color:#9a6700}table.tl tr.c5 td.text{color:var(--withheld)}
    table.tl tr.n td.text,table.tl tr.g td.text{color:#9a6700}table.tl tr.t td.text{color:var(--dim)}
    table.tl tr.log td.text{color:#0550ae}table.tl tr.log td.side{color:#0550ae}
    table.tl tbody.txn{border-left:3px solid var(--line)}table.tl tbody.txn tr.th td{font-weight:600;padding-top:4px}
    table.tl tr.end td{padding-bottom:6px}
    .outcome{font-weight:600}
    .flist{margin:6px 0;padding-left:18px}
    svg.chart{display:block}svg.chart text{font-size:11px;fill:var(--dim)}
    svg.chart rect.sess{fill:#d0d7de}svg.chart rect.sess.ic{fill:#ffd8b5}svg.chart g.row:hover rect.sess{fill:#8c959f}
    svg.chart .queued{fill:var(--queued)}svg.chart .rejected{fill:var(--rejected)}svg.chart .reset{fill:var(--reset)}svg.chart .abandoned,svg.chart .incomplete{fill:var(--abandoned)}svg.chart .open{fill:none;stroke:#57606a;stroke-width:1.2}
    svg.chart line.axis{stroke:#8c959f}
    .none{color:var(--dim)}
    body.solo>header,body.solo>section:not(#intercepts),body.solo #intercepts>h2,body.solo .intercept:not(.solo-target){display:none}
    .solo-link{font-size:12px;margin-left:10px;font-weight:400}
    """#

    static let script = #"""
    (function () {
    'use strict';
    var errors = [];
    function fail(msg) {
      errors.push(msg);
      var e = document.getElementById('errors');
      e.hidden = false;
      e.textContent = errors.join('\n');
    }
    window.addEventListener('error', function (e) { fail('script error: ' + e.message); });
    document.addEventListener('securitypolicyviolation', function (e) { fail('blocked by the Content-Security-Policy: ' + e.violatedDirective + ' ' + e.blockedURI); });

    var SVGNS = 'http://www.w3.org/2000/svg';
    function el(tag, cls, text) {
      var e = document.createElement(tag);
      if (cls) e.className = cls;
      if (text !== undefined && text !== null) e.textContent = text;
      return e;
    }
    function sv(parent, tag, attrs, text) {
      var e = document.createElementNS(SVGNS, tag);
      for (var k in attrs) e.setAttribute(k, attrs[k]);
      if (text !== undefined && text !== null) e.textContent = text;
      if (parent) parent.appendChild(e);
      return e;
    }
    function utc(t) { return new Date(t * 1000).toISOString().replace('T', ' ').replace('Z', ' UTC'); }
    function secs(v) { return v < 10 ? v.toFixed(3) + ' s' : v.toFixed(1) + ' s'; }
    function lat(v) { return v < 0.001 ? Math.round(v * 1e6) + ' µs' : v < 1 ? (v * 1000).toFixed(1) + ' ms' : v.toFixed(2) + ' s'; }
    function cut(s, n) { return s.length > n ? s.slice(0, Math.max(1, n - 1)) + '…' : s; }

    var D = JSON.parse(document.getElementById('data').textContent);
    // Records arrive as sessions end; the list reads in the order they began.
    D.sessions.sort(function (p, q) { return p.t - q.t || p.id - q.id; });
    var byId = {};
    D.sessions.forEach(function (s) { byId[s.id] = s; s.fids = {}; s.f.forEach(function (f) { s.fids[f[0]] = 1; }); });
    // Each leg of an intercept knows it, and takes its findings for the filter.
    D.intercepts.forEach(function (x, i) {
      [x.cl].concat(x.sl).forEach(function (id) {
        var s = byId[id];
        if (!s) return;
        s.ic = i + 1;
        x.f.forEach(function (f) { s.fids[f[0]] = 1; });
      });
    });
    D.same.forEach(function (x) { [x.nc, x.ns].forEach(function (id) { var s = byId[id]; if (s) x.f.forEach(function (f) { s.fids[f[0]] = 1; }); }); });

    function badge(f) {
      var sym = f[1] === 'problem' ? '✖ ' : f[1] === 'warning' ? '⚠ ' : 'ℹ ';
      var b = el('span', 'badge ' + f[1], sym + f[0]);
      b.title = f[2];
      return b;
    }
    function findingList(list) {
      var ul = el('ul', 'flist');
      list.forEach(function (f) {
        var li = el('li');
        li.appendChild(badge(f));
        li.appendChild(document.createTextNode('  ' + f[2] + ' '));
        li.appendChild(el('span', 'ref', '[' + f[5] + ']'));
        ul.appendChild(li);
      });
      return ul;
    }

    // ---------- Run-level findings ----------
    if (D.notes.length) {
      var notes = document.getElementById('notes');
      notes.appendChild(el('h3', null, 'About the whole run'));
      notes.appendChild(findingList(D.notes));
    }

    // ---------- Ladder diagrams ----------
    var W = 1120, CX = 120, MX = 560, SX = 1000, TOP = 58, ROW = 34;
    var KIND_WORD = { relayed: 'relayed', injected: '✚ injected', synthesized: '✱ synthesized', withheld: '✖ withheld', rewritten: '✎ rewritten', held: 'held', divergent: '≠ divergent', released: '▶ released' };

    function arrow(g, x1, x2, y, cls) {
      var ln = sv(g, 'line', { x1: x1, y1: y, x2: x2, y2: y });
      if (cls) ln.setAttribute('class', cls);
      var d = x2 > x1 ? -1 : 1;
      sv(g, 'polygon', { points: x2 + ',' + y + ' ' + (x2 + 9 * d) + ',' + (y - 4.5) + ' ' + (x2 + 9 * d) + ',' + (y + 4.5) });
    }
    // `whole`: the full text for the tooltip, when `text` is already a part of it.
    function label(g, x, y, text, anchor, width, cls, whole) {
      var t = sv(g, 'text', { x: x, y: y, 'text-anchor': anchor }, cut(text, Math.floor(width / 7.3)));
      if (cls) t.setAttribute('class', cls);
      whole = whole || text;
      if (t.textContent !== whole) sv(t, 'title', {}, whole);
      return t;
    }
    function pill(g, x, y, text) {
      var w = text.length * 6.8 + 12;
      sv(g, 'rect', { 'class': 'pill', x: x - w / 2, y: y - 9, width: w, height: 18, rx: 9 });
      sv(g, 'text', { 'class': 'pill', x: x, y: y + 4, 'text-anchor': 'middle' }, text);
    }

    // The ladder's rows: one per action, plus the moment a held message was passed on.
    function ladderRows(x) {
      var rows = [];
      x.a.forEach(function (a, i) {
        var r = { kind: a[0], leg: a[1], t: a[2], line: a[3], other: a[4], delay: a[5], note: a[6], reply: a[7] === 1, msg: a[8] === 1, seq: i };
        rows.push(r);
        if (r.kind === 'held' && r.delay !== null) {
          rows.push({ kind: 'released', t: r.t + r.delay, line: r.other || r.line, delay: r.delay, from: r, seq: i + 0.5 });
        }
      });
      rows.sort(function (p, q) { return p.t - q.t || p.seq - q.seq; });
      return rows;
    }

    function ladder(x, n) {
      var rows = ladderRows(x);
      var svg = sv(null, 'svg', { 'class': 'ladder', width: W, viewBox: '0 0 ' + W + ' 100', role: 'img' });
      sv(svg, 'title', {}, 'ladder diagram of intercepted connection ' + n);
      var heads = sv(svg, 'g', { 'class': 'heads' });
      sv(heads, 'text', { 'class': 'head', x: 4, y: 16 }, 'client leg · session ' + x.cl);
      label(heads, 4, 32, x.ce, 'start', MX - 80, 'sub');
      sv(heads, 'text', { 'class': 'head', x: MX, y: 16, 'text-anchor': 'middle' }, 'middlebox');
      sv(heads, 'text', { 'class': 'sub', x: MX, y: 32, 'text-anchor': 'middle' }, x.vk);
      sv(heads, 'text', { 'class': 'head', x: W - 4, y: 16, 'text-anchor': 'end' }, 'server leg · session ' + x.sl.join(', '));
      label(heads, W - 4, 32, x.se.join(', '), 'end', W - MX - 80, 'sub');
      var back = sv(svg, 'g', {});
      var body = sv(svg, 'g', {});
      var y = TOP, prev = null, held = [];
      rows.forEach(function (r) {
        if (prev !== null && r.t - prev > 0.5) {
          sv(back, 'rect', { 'class': 'gapband', x: 0, y: y, width: W, height: 22 });
          sv(back, 'text', { 'class': 'gap', x: 6, y: y + 15 }, '⋮ ' + secs(r.t - prev) + ' later');
          y += 22;
        }
        prev = r.t;
        var ay = y + 22;
        var g = sv(body, 'g', { 'class': 'arrow ' + r.kind, 'data-kind': r.kind });
        sv(g, 'text', { 'class': 'time', x: 4, y: ay + 4 }, '+' + r.t.toFixed(3));
        var word = KIND_WORD[r.kind];
        var text = r.line;
        if (r.kind === 'divergent') {
          sv(g, 'rect', { 'class': 'band', x: CX - 20, y: y + 4, width: SX - CX + 40, height: 24, rx: 4 });
          label(g, MX, ay + 1, '≠ ' + text, 'middle', SX - CX, 'pill');
        } else if (r.kind === 'relayed' || r.kind === 'rewritten') {
          var toClient = r.reply;
          arrow(g, toClient ? SX : CX, toClient ? CX + 1 : SX - 1, ay);
          var w = r.kind === 'relayed' ? (r.delay !== null ? 'relayed ' + lat(r.delay) : 'relayed') : '✎ rewritten';
          if (r.kind === 'relayed') {
            // The same line on both legs: written once, beside the side that sent it.
            if (toClient) label(g, SX - 10, y + 12, text, 'end', SX - MX - 70);
            else label(g, CX + 10, y + 12, text, 'start', MX - CX - 60);
          } else {
            // Where long lines differ past what fits, both are shown from a little before the change.
            var other = r.other || '', k = 0;
            while (k < text.length && k < other.length && text[k] === other[k]) k++;
            var fit = Math.floor((MX - CX - 70) / 7.3);
            var from = k > fit - 16 ? k - 12 : 0;
            label(g, CX + 10, y + 12, (from ? '…' : '') + text.slice(from), 'start', MX - CX - 60, null, text);
            label(g, SX - 10, y + 12, (from ? '…' : '') + other.slice(from), 'end', SX - MX - 70, null, other);
          }
          pill(g, MX, ay, w);
        } else if (r.kind === 'withheld') {
          arrow(g, CX, MX - 14, ay);
          sv(g, 'text', { 'class': 'pill', x: MX - 5, y: ay + 5, 'text-anchor': 'middle' }, '✖');
          label(g, CX + 10, y + 12, text, 'start', MX - CX - 60);
          sv(g, 'text', { 'class': 'pill', x: MX + 14, y: ay + 4 }, 'withheld: never reached the server');
        } else if (r.kind === 'synthesized') {
          arrow(g, MX, CX + 1, ay);
          label(g, CX + 10, y + 12, text, 'start', MX - CX - 60);
          pill(g, MX, ay, word);
          if (r.other) label(g, SX - 10, ay + 4, 'server said: ' + r.other, 'end', SX - MX - 70, 'note');
        } else if (r.kind === 'injected') {
          arrow(g, MX, SX - 1, ay);
          label(g, SX - 10, y + 12, text, 'end', SX - MX - 70);
          pill(g, MX, ay, r.note && r.note.indexOf('replay') >= 0 ? '↻ replayed' : word);
          if (r.other) {
            // The server's answer stays with the middlebox: the client never sees it.
            y += 14; ay += 14;
            arrow(g, SX, MX + 60, ay, 'thin');
            label(g, SX - 10, ay - 3, r.other, 'end', SX - MX - 80, 'note');
          }
        } else if (r.kind === 'held') {
          arrow(g, CX, MX - 12, ay);
          label(g, CX + 10, y + 12, text, 'start', MX - CX - 60);
          sv(g, 'text', { 'class': 'pill', x: MX + 14, y: ay + 4 }, 'held ' + (r.delay !== null ? lat(r.delay) : '') + ' before passing it on');
          held.push({ y: ay, row: r });
        } else if (r.kind === 'released') {
          arrow(g, MX + 12, SX - 1, ay, 'dash');
          label(g, SX - 10, y + 12, text, 'end', SX - MX - 70);
          sv(g, 'text', { 'class': 'pill', x: MX - 14, y: ay + 4, 'text-anchor': 'end' }, 'passed on ' + lat(r.delay) + ' later');
          held.forEach(function (h) { if (h.row === r.from) sv(back, 'rect', { 'class': 'hold', x: MX - 7, y: h.y, width: 14, height: ay - h.y }); });
        }
        if (r.note && r.kind !== 'relayed' && r.kind !== 'injected') {
          y += 13;
          label(g, MX + 14, ay + 17, '↳ ' + r.note, 'start', W - MX - 20, 'note');
        } else if (r.note && r.kind === 'injected' && !r.other) {
          y += 13;
          label(g, MX + 14, ay + 17, '↳ ' + r.note, 'start', W - MX - 20, 'note');
        }
        y += ROW;
      });
      var bottom = y + 8;
      [CX, MX, SX].forEach(function (cx) {
        var l = sv(null, 'line', { 'class': cx === MX ? 'life mb' : 'life', x1: cx, y1: TOP - 14, x2: cx, y2: bottom });
        back.insertBefore(l, back.firstChild);
      });
      svg.setAttribute('viewBox', '0 0 ' + W + ' ' + (bottom + 6));
      svg.setAttribute('height', bottom + 6);
      return svg;
    }

    function legend() {
      var p = el('div', 'legend');
      [['relayed', 'relayed (with the delay the middlebox added)'], ['injected', 'injected: the middlebox wrote it'], ['synthesized', 'synthesized: a reply the server never gave'],
       ['withheld', 'withheld: never passed on'], ['rewritten', 'rewritten: changed on the way'], ['held', 'held: passed on only later'], ['divergent', 'divergent outcome']].forEach(function (k) {
        var s = el('span', 'k-' + k[0]);
        s.appendChild(el('i', 'k-' + k[0]));
        s.appendChild(document.createTextNode(k[1]));
        p.appendChild(s);
      });
      return p;
    }

    function renderIntercept(x, n, box) {
      box.appendChild(el('p', 'dim', 'client leg: session ' + x.cl + ' (' + x.ce + ')  ⇄  server leg: ' + x.sl.map(function (id, i) { return 'session ' + id + ' (' + x.se[i] + ')'; }).join(', ') + ' · ' + x.clock + ' · score ' + x.score));
      var v = el('p', 'verdict');
      v.appendChild(el('b', null, 'verdict: '));
      v.appendChild(document.createTextNode(x.v));
      box.appendChild(v);
      if (x.f.length) box.appendChild(findingList(x.f));
      var ev = el('details');
      ev.appendChild(el('summary', null, 'evidence the two sessions are one connection'));
      var ul = el('ul');
      x.ev.forEach(function (e) { ul.appendChild(el('li', null, e)); });
      ev.appendChild(ul);
      box.appendChild(ev);
      box.appendChild(legend());
      var wrap = el('div', 'ladder-wrap');
      wrap.appendChild(ladder(x, n));
      box.appendChild(wrap);
    }

    var icList = document.getElementById('intercept-list');
    if (D.intercepts.length || D.same.length) document.getElementById('intercepts').hidden = false;
    D.intercepts.forEach(function (x, i) {
      var d = el('details', 'intercept');
      d.id = 'intercept-' + (i + 1);
      var sum = el('summary', null, 'intercepted connection ' + (i + 1) + ': session ' + x.cl + ' ⇄ ' + x.sl.join(', ') + ' — ' + x.vk + ' · ' + utc(x.t));
      var solo = el('a', 'solo-link', 'show only this connection');
      solo.href = '#ladder=' + (i + 1);
      sum.appendChild(solo);
      d.appendChild(sum);
      var box = el('div');
      d.appendChild(box);
      var done = false;
      function open() { if (!done) { done = true; renderIntercept(x, i + 1, box); } }
      d.addEventListener('toggle', function () { if (d.open) open(); });
      // The first few are open at once: they are what the page is read for.
      if (i < 10) { d.open = true; open(); }
      icList.appendChild(d);
    });
    D.same.forEach(function (x) {
      var d = el('div', 'intercept');
      d.appendChild(el('b', null, 'same connection, two capture points: session ' + x.nc + ' ≡ session ' + x.ns));
      d.appendChild(el('p', 'dim', 'session ' + x.nc + ' (' + x.ncd + ') ≡ session ' + x.ns + ' (' + x.nsd + ') · ' + x.clock));
      var v = el('p', 'verdict');
      v.appendChild(document.createTextNode('verdict: ' + x.v));
      d.appendChild(v);
      if (x.combined !== null) d.appendChild(el('p', null, 'both copies put together, gaps filled: session ' + x.combined));
      d.appendChild(findingList(x.f));
      icList.appendChild(d);
    });

    // ---------- Session timelines ----------
    function sessionBody(s) {
      var b = el('div', 'sbody');
      (s.notes || []).forEach(function (n) { b.appendChild(el('p', 'dim', '(' + n + ')')); });
      if (s.cap) b.appendChild(el('p', 'dim', 'capture: ' + s.cap));
      if (s.ic) {
        var p = el('p');
        var a = el('a', null, 'a leg of intercepted connection ' + s.ic + ' (ladder)');
        a.href = '#intercept=' + s.ic;
        p.appendChild(a);
        b.appendChild(p);
      }
      var marks = {};
      s.f.forEach(function (f) { if (f[3] >= 0) (marks[f[3]] = marks[f[3]] || []).push(f); });
      var rows = s.l.map(function (l, i) { return { l: l, i: i, t: l[0] }; });
      (s.g || []).forEach(function (g) { rows.push({ log: g, t: g[0], i: 1e9 }); });
      if (s.g) rows.sort(function (p, q) { return p.t - q.t || p.i - q.i; });
      var table = el('table', 'tl');
      var tbody = el('tbody');
      table.appendChild(tbody);
      var open = 0;
      var tx = {};
      s.x.forEach(function (t) { tx[t.i] = t; });
      function close() {
        if (!open) return;
        var t = tx[open];
        var tr = el('tr', 'end');
        tr.appendChild(el('td'));
        tr.appendChild(el('td'));
        var td = el('td', 'text');
        if (t) { td.appendChild(el('span', 'outcome o-' + t.o, '└ ' + t.w)); }
        tr.appendChild(td);
        tbody.appendChild(tr);
      }
      rows.forEach(function (r) {
        if (r.log) {
          var lt = el('tr', 'log');
          lt.appendChild(el('td', 'time', '+' + (r.t / 1000).toFixed(3)));
          lt.appendChild(el('td', 'side', 'L'));
          var ltd = el('td', 'text', r.log[1]);
          ltd.title = 'the mail server\'s log';
          lt.appendChild(ltd);
          lt.appendChild(el('td', 'lat'));
          tbody.appendChild(lt);
          return;
        }
        var l = r.l;
        if (l[4] !== open) {
          close();
          if (l[4]) {
            tbody = el('tbody', 'txn');
            table.appendChild(tbody);
            var th = el('tr', 'th');
            th.appendChild(el('td'));
            th.appendChild(el('td'));
            th.appendChild(el('td', null, 'transaction ' + l[4]));
            tbody.appendChild(th);
          } else {
            tbody = el('tbody');
            table.appendChild(tbody);
          }
          open = l[4];
        }
        var tr = el('tr', l[2] + (l[5] ? ' c' + Math.floor(l[5] / 100) : ''));
        tr.appendChild(el('td', 'time', '+' + (l[0] / 1000).toFixed(3)));
        tr.appendChild(el('td', 'side', l[2] === 'n' || l[2] === 't' ? '' : l[1]));
        var td = el('td', 'text', (l[2] === 't' ? '🔒 ' : l[2] === 'g' || l[2] === 'n' ? '⚠ ' : '') + l[3] + (l[7] ? ' 🔓' : ''));
        (marks[r.i] || []).forEach(function (f) { td.appendChild(badge(f)); });
        tr.appendChild(td);
        tr.appendChild(el('td', 'lat', l[6] || ''));
        tbody.appendChild(tr);
      });
      close();
      b.appendChild(table);
      if (s.dropped) b.appendChild(el('p', 'dim', '… ' + s.dropped + ' more lines not kept (timeline limit)'));
      if (D.log && !s.g) b.appendChild(el('p', 'dim', 'no line of the server\'s log joined this session'));
      b.appendChild(el('p', null, 'closed: ' + s.end));
      if (s.an) b.appendChild(el('p', 'dim', 'anomalies: ' + s.an.join(', ')));
      if (s.f.length) b.appendChild(findingList(s.f));
      return b;
    }

    function sessionRow(s) {
      var d = el('details', 'session');
      d.id = 'session-' + s.id;
      d.setAttribute('data-session', s.id);
      var sum = el('summary');
      sum.appendChild(el('b', null, 'session ' + s.id));
      sum.appendChild(document.createTextNode('  ' + s.c + ' → ' + s.s + '   ' + utc(s.t) + '   ' + secs(s.d) + (s.helo ? '   ' + s.helo : '') + '  '));
      if (s.ic) sum.appendChild(el('span', 'chip k-held', 'intercepted'));
      s.x.forEach(function (t) { sum.appendChild(el('span', 'chip o-' + t.o, t.o)); });
      s.f.forEach(function (f) { sum.appendChild(badge(f)); });
      d.appendChild(sum);
      d.addEventListener('toggle', function () {
        if (d.open && !d.rendered) { d.rendered = true; d.appendChild(sessionBody(s)); }
      });
      return d;
    }

    // ---------- Filter ----------
    var state = { q: '', outcome: '', finding: '', session: '', intercept: '', ladder: '' };
    var fq = document.getElementById('f-q'), fo = document.getElementById('f-outcome'), ff = document.getElementById('f-finding');
    var ids = {};
    D.sessions.forEach(function (s) { for (var k in s.fids) ids[k] = 1; });
    Object.keys(ids).sort().forEach(function (k) { var o = el('option', null, k); o.value = k; ff.appendChild(o); });

    function parseHash() {
      var h = location.hash.replace(/^#/, '');
      if (h.indexOf('=') < 0) return false;
      state = { q: '', outcome: '', finding: '', session: '', intercept: '', ladder: '' };
      h.split('&').forEach(function (kv) {
        var i = kv.indexOf('=');
        if (i < 0) return;
        var k = kv.slice(0, i), v = '';
        try { v = decodeURIComponent(kv.slice(i + 1).replace(/\+/g, ' ')); } catch (e) { v = ''; }
        if (k in state) state[k] = v;
      });
      return true;
    }
    function writeHash() {
      var parts = [];
      ['q', 'outcome', 'finding'].forEach(function (k) { if (state[k]) parts.push(k + '=' + encodeURIComponent(state[k])); });
      history.replaceState(null, '', parts.length ? '#' + parts.join('&') : location.pathname + location.search);
    }
    function matches(s) {
      if (state.session) return String(s.id) === state.session;
      if (state.outcome) {
        if (state.outcome === 'none') { if (s.x.length) return false; }
        else if (!s.x.some(function (t) { return t.o === state.outcome; })) return false;
      }
      if (state.finding && !s.fids[state.finding]) return false;
      if (state.q) {
        var q = state.q.toLowerCase();
        var hay = [s.c, s.s, s.helo || ''].concat(s.a || []).join(' ').toLowerCase();
        if (hay.indexOf(q) < 0) return false;
      }
      return true;
    }

    var PAGE = 100, list = document.getElementById('session-list'), more = document.getElementById('more');
    var shown = [], rendered = 0;
    function renderMore() {
      var end = Math.min(shown.length, rendered + PAGE);
      var frag = document.createDocumentFragment();
      for (var i = rendered; i < end; i++) frag.appendChild(sessionRow(shown[i]));
      list.appendChild(frag);
      rendered = end;
      more.hidden = rendered >= shown.length;
    }
    function apply() {
      fq.value = state.q; fo.value = state.outcome; ff.value = state.finding;
      shown = D.sessions.filter(matches);
      list.textContent = '';
      rendered = 0;
      renderMore();
      var c = document.getElementById('count');
      c.textContent = !D.sessions.length ? 'no SMTP session' : (shown.length === D.sessions.length ? 'all ' + shown.length : shown.length + ' of ' + D.sessions.length) + ' session' + (D.sessions.length === 1 ? '' : 's') + (state.session ? ' (session ' + state.session + ')' : '');
      chart();
      if (state.session && shown.length) {
        var d = list.firstChild;
        d.open = true;
        d.scrollIntoView();
      }
    }
    function fromForm() {
      state = { q: fq.value.trim(), outcome: fo.value, finding: ff.value, session: '', intercept: '', ladder: '' };
      writeHash();
      apply();
    }
    fq.addEventListener('input', fromForm);
    fo.addEventListener('change', fromForm);
    ff.addEventListener('change', fromForm);
    document.getElementById('filter').addEventListener('submit', function (e) { e.preventDefault(); });
    document.getElementById('f-clear').addEventListener('click', function (e) { e.preventDefault(); state = { q: '', outcome: '', finding: '', session: '', intercept: '', ladder: '' }; writeHash(); apply(); });
    document.getElementById('more-button').addEventListener('click', renderMore);
    if ('IntersectionObserver' in window) {
      new IntersectionObserver(function (es) { if (es.some(function (e) { return e.isIntersecting; }) && rendered < shown.length) renderMore(); }).observe(more);
    }
    // `#ladder=N`: the page shows intercepted connection N alone (to print it, or send it on).
    function solo() {
      var n = state.ladder;
      document.body.classList.toggle('solo', !!n);
      Array.prototype.forEach.call(document.querySelectorAll('.intercept'), function (d) { d.classList.toggle('solo-target', d.id === 'intercept-' + n); });
      var d = n && document.getElementById('intercept-' + n);
      if (d) d.open = true;
    }
    function onHash() {
      if (!parseHash()) return;
      solo();
      if (state.intercept) {
        var d = document.getElementById('intercept-' + state.intercept);
        state.intercept = '';
        if (d) { d.open = true; apply(); d.scrollIntoView(); return; }
      }
      apply();
      if (state.finding || state.outcome || state.q) document.getElementById('sessions').scrollIntoView();
    }
    window.addEventListener('hashchange', onHash);

    // ---------- Chart of the sessions over the capture ----------
    function chart() {
      var box = document.getElementById('chart-box');
      box.textContent = '';
      if (!shown.length) { box.appendChild(el('p', 'none', D.sessions.length ? 'no session matches the filter' : 'no SMTP session in the capture')); return; }
      var t0 = Infinity, t1 = -Infinity;
      shown.forEach(function (s) { t0 = Math.min(t0, s.t); t1 = Math.max(t1, s.t + s.d); });
      var span = Math.max(t1 - t0, 0.001), CW = 1120, L = 90, R = 10, PW = CW - L - R;
      function X(t) { return L + (t - t0) / span * PW; }
      var svg;
      if (shown.length <= 150) {
        // One row a session: its span, and a mark where each transaction began.
        var RH = 14, H = shown.length * RH + 30;
        svg = sv(null, 'svg', { 'class': 'chart', width: CW, height: H, viewBox: '0 0 ' + CW + ' ' + H });
        shown.forEach(function (s, i) {
          var y = 4 + i * RH;
          var g = sv(svg, 'g', { 'class': 'row' });
          var a = sv(g, 'a', { href: '#session=' + s.id });
          sv(a, 'text', { x: L - 6, y: y + 10, 'text-anchor': 'end' }, 'session ' + s.id);
          sv(a, 'rect', { 'class': 'sess' + (s.ic ? ' ic' : ''), x: X(s.t), y: y + 2, width: Math.max(2, X(s.t + s.d) - X(s.t)), height: RH - 4 });
          s.x.forEach(function (t) {
            sv(a, 'rect', { 'class': t.o, x: X(s.t + t.t) - 1.5, y: y + 1, width: 3, height: RH - 2 }, null);
          });
          sv(a, 'title', {}, 'session ' + s.id + ': ' + s.c + ' → ' + s.s + ', ' + s.x.length + ' transaction(s)');
        });
        axis(svg, H - 22);
      } else {
        // Many sessions: transactions begun per interval, stacked by outcome, and sessions open.
        var N = 120, H2 = 190, PH = 150, bins = [], open = new Array(N).fill(0), order = ['queued', 'rejected', 'reset', 'abandoned', 'incomplete'];
        for (var i = 0; i < N; i++) bins.push({ queued: 0, rejected: 0, reset: 0, abandoned: 0, incomplete: 0 });
        shown.forEach(function (s) {
          s.x.forEach(function (t) { var k = Math.min(N - 1, Math.floor((s.t + t.t - t0) / span * N)); bins[k][t.o]++; });
          var a = Math.min(N - 1, Math.floor((s.t - t0) / span * N)), b = Math.min(N - 1, Math.floor((s.t + s.d - t0) / span * N));
          for (var k = a; k <= b; k++) open[k]++;
        });
        var maxT = 1, maxO = 1;
        bins.forEach(function (b, k) { var n = 0; order.forEach(function (o) { n += b[o]; }); maxT = Math.max(maxT, n); maxO = Math.max(maxO, open[k]); });
        svg = sv(null, 'svg', { 'class': 'chart', width: CW, height: H2, viewBox: '0 0 ' + CW + ' ' + H2 });
        var bw = PW / N;
        bins.forEach(function (b, k) {
          var y = PH + 4;
          order.forEach(function (o) {
            if (!b[o]) return;
            var h = b[o] / maxT * PH;
            y -= h;
            sv(svg, 'rect', { 'class': o, x: L + k * bw + 0.5, y: y, width: Math.max(1, bw - 1), height: h }, null);
          });
        });
        var pts = open.map(function (v, k) { return (L + (k + 0.5) * bw).toFixed(1) + ',' + (PH + 4 - v / maxO * PH).toFixed(1); }).join(' ');
        sv(svg, 'polyline', { 'class': 'open', points: pts });
        sv(svg, 'text', { x: L - 6, y: 14, 'text-anchor': 'end' }, maxT + ' txn');
        sv(svg, 'text', { x: L - 6, y: 28, 'text-anchor': 'end' }, maxO + ' open');
        sv(svg, 'text', { x: L - 6, y: PH + 4, 'text-anchor': 'end' }, '0');
        axis(svg, PH + 8);
        box.appendChild(el('p', 'hint', 'bars: transactions begun per ' + secs(span / N) + ', coloured by outcome (green queued, red rejected, yellow reset, grey abandoned or incomplete); line: sessions open'));
      }
      function axis(svg, y) {
        sv(svg, 'line', { 'class': 'axis', x1: L, y1: y, x2: CW - R, y2: y });
        sv(svg, 'text', { x: L, y: y + 14 }, utc(t0));
        sv(svg, 'text', { x: CW - R, y: y + 14, 'text-anchor': 'end' }, utc(t1) + ' (' + secs(span) + ')');
      }
      box.insertBefore(svg, box.firstChild);
    }

    parseHash();
    solo();
    apply();
    if (state.intercept) onHash();
    if (state.finding || state.outcome || state.q) document.getElementById('sessions').scrollIntoView();
    document.body.setAttribute('data-ready', '1');
    document.body.setAttribute('data-render-ms', String(Math.round(performance.now())));
    })();
    """#
}
