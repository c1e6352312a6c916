import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// The dashboard's one style sheet, inline in the page.
extension Dashboard {
    static let style = """
        :root{--bg:#f3f5f9;--panel:#fff;--line:#e4e8ef;--text:#1f2937;--muted:#6b7280;--good:#2f9e6b;--bad:#d64545;--warn:#d97706;--accent:#2563eb}
        *{box-sizing:border-box}
        body{margin:0;background:var(--bg);color:var(--text);font:14px/1.45 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","Liberation Sans",sans-serif;-webkit-font-smoothing:antialiased}
        main{max-width:1240px;margin:0 auto;padding:28px 28px 40px}
        .top{display:flex;justify-content:space-between;align-items:flex-end;gap:24px;margin-bottom:22px}
        .brand{display:flex;align-items:center;gap:8px;font-weight:700;color:var(--accent);letter-spacing:.02em;text-transform:uppercase;font-size:12px}
        .logo{width:14px;height:14px;border-radius:4px;background:linear-gradient(135deg,#2563eb,#0f8f8a);display:inline-block}
        h1{margin:4px 0 2px;font-size:26px;font-weight:600;letter-spacing:-.01em}
        h1 strong{font-weight:700}
        h2{margin:0 0 2px;font-size:16px;font-weight:650}
        h3{margin:18px 0 8px;font-size:14px}
        .sub,.note{color:var(--muted);margin:0}
        .note{font-size:13px;margin-bottom:14px}
        .phase{background:var(--panel);border:1px solid var(--line);border-radius:12px;padding:12px 16px;min-width:360px}
        .phase-name{font-weight:650;margin-bottom:8px}
        .steps{display:flex;gap:8px}
        .step{flex:1;border-top:3px solid #d5dbe5;padding-top:6px;font-size:12px;color:var(--muted)}
        .step b{display:block;color:var(--text);font-size:13px}
        .step.past{border-top-color:var(--accent)}
        .muted{color:var(--muted)}
        .cards{display:grid;grid-template-columns:repeat(5,1fr);gap:14px;margin-bottom:18px}
        .card{background:var(--panel);border:1px solid var(--line);border-radius:12px;padding:14px 16px;border-top:4px solid #cfd6e2}
        .card.good{border-top-color:var(--good)}.card.bad{border-top-color:var(--bad)}.card.warn{border-top-color:var(--warn)}
        .card-title{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em;font-weight:600}
        .card-value{font-size:28px;font-weight:700;margin:4px 0 6px;font-variant-numeric:tabular-nums}
        .card.bad .card-value{color:var(--bad)}.card.good .card-value{color:var(--good)}.card.warn .card-value{color:var(--warn)}
        .card-detail{font-size:12.5px;color:var(--muted)}
        .meter{height:6px;background:#edf0f5;border-radius:3px;overflow:hidden;margin-bottom:8px}
        .meter i{display:block;height:100%;background:var(--good)}
        .panel{background:var(--panel);border:1px solid var(--line);border-radius:12px;padding:18px 20px;margin-bottom:18px;box-shadow:0 1px 2px rgba(16,24,40,.04)}
        .grid{display:grid;grid-template-columns:1.35fr 1fr;gap:18px}
        .grid .panel{margin-bottom:18px}
        table{width:100%;border-collapse:collapse}
        th{font-size:11.5px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600;text-align:left;padding:8px;border-bottom:1px solid var(--line);vertical-align:bottom}
        td{padding:10px 8px;border-bottom:1px solid #f0f2f6;vertical-align:middle}
        tbody tr:last-child td{border-bottom:0}
        .n{text-align:right;font-variant-numeric:tabular-nums}
        td.n{white-space:nowrap}
        td.warn{color:var(--warn);font-weight:600}td.bad{color:var(--bad);font-weight:600}
        .scroll{overflow-x:auto;max-width:100%}
        .grid>.panel{min-width:0}
        td.who{min-width:220px}
        .addr{font-weight:600;overflow-wrap:break-word}
        .reason{color:var(--bad);font-size:12.5px;margin-top:3px;overflow-wrap:anywhere}
        .reason-col{min-width:180px;overflow-wrap:anywhere}
        table.problems td{vertical-align:top;font-size:13px}
        table.problems .when{white-space:normal;min-width:84px}
        .day{white-space:nowrap}
        .key{color:var(--muted);font-size:12px}
        .when{color:var(--muted);font-size:12.5px;white-space:nowrap}
        .bar-col{width:18%}
        .progress{display:flex;align-items:center;gap:8px;min-width:130px}
        .bar{flex:1;display:flex;height:12px;border-radius:6px;overflow:hidden;background:#edf0f5}
        .bar i{display:block;height:100%}
        .pct{width:36px;text-align:right;font-size:12.5px;font-weight:600;font-variant-numeric:tabular-nums}
        .legend{display:flex;flex-wrap:wrap;gap:6px 16px;margin-top:12px;font-size:12px;color:var(--muted)}
        .legend i{display:inline-block;width:10px;height:10px;border-radius:3px;margin-right:6px;vertical-align:-1px}
        .badge{display:inline-block;font-size:11px;font-weight:600;padding:1px 7px;border-radius:9px;background:#eef1f6;color:#4b5563;margin-left:4px}
        .badge.warn{background:#fdf1dc;color:#a65f00}.badge.bad{background:#fde3e3;color:#b42323}
        svg.chart{width:100%;height:auto;display:block;font-family:inherit}
        .empty{color:var(--muted);padding:18px 0;margin:0}
        .allclear{display:flex;align-items:center;gap:12px;padding:22px 4px;color:#29523f}
        .tick{display:inline-flex;width:30px;height:30px;border-radius:50%;background:#e1f3ea;color:var(--good);align-items:center;justify-content:center;font-weight:700}
        .verdict{display:flex;gap:14px;align-items:center;padding:14px 16px;border-radius:10px}
        .verdict.good{background:#e9f6ef}.verdict.bad{background:#fdeaea}
        .mark{display:inline-flex;flex:none;width:34px;height:34px;border-radius:50%;align-items:center;justify-content:center;color:#fff;font-weight:800;font-size:18px}
        .verdict.good .mark{background:var(--good)}.verdict.bad .mark{background:var(--bad)}
        .verdict-text{font-size:16px;font-weight:650}
        .verdict-sub{color:var(--muted);font-size:12.5px;margin-top:2px}
        .findings td{font-size:13px}
        code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f5f9;padding:1px 5px;border-radius:4px;overflow-wrap:anywhere}
        .problem{color:var(--bad);margin:8px 0 0}
        footer{color:var(--muted);font-size:12px;text-align:center;margin-top:8px}
        @media (max-width:900px){.cards{grid-template-columns:repeat(2,1fr)}.grid{grid-template-columns:1fr}.top{flex-direction:column;align-items:stretch}}
        """
}
