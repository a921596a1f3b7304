"""Markdown tables of a benchmark result, for the terminal and docs/benchmarks.md."""

from __future__ import annotations

from typing import Any

from vrn_studio.bench.suite import STAGES


def _ms(stats: dict[str, float]) -> str:
    return f"{stats['median']:.1f} ({stats['p10']:.1f}–{stats['p90']:.1f})"


def _mesh_share(path: dict[str, Any]) -> float:
    """Isosurface + bump removal as a percentage of a path's total (medians)."""
    stages = path["stages"]
    return 100 * (stages["isosurface"]["median"] + stages["bumps"]["median"]) / path["total"]["median"]


def format_markdown(result: dict[str, Any]) -> str:
    """The result as Markdown: machine; the released architecture's per-stage table, network
    variants, live path and FLOP bound (unless ``product_only``); the product path, its live
    loop and profile."""
    env = result["environment"]
    machine = env.get("gpu") or env["cpu"]
    header = (
        f"**{machine}** ({env['device']}; CPU {env['cpu']}, {env['cpu_count']} cores, torch "
        f"{env['packages'].get('torch')}, {env['torch_threads']} threads, load {env['load_average']}), "
        f"{result['created']}, commit {env.get('git_commit')}; median (p10–p90) ms over "
        f"{result['settings']['repeat']} runs after {result['settings']['warmup']} warm-up."
    )
    lines = [header, ""]
    if "paths" in result:
        lines += _released_lines(result) + [""]
    if "product" in result:
        lines += _product_lines(result) + [""]
    lines += [f"Peak memory: CPU RSS {result['peak_rss_mib']} MiB"
              + (f", GPU {result['gpu_peak_mib']} MiB." if "gpu_peak_mib" in result else ".")]
    return "\n".join(lines)


def _released_lines(result: dict[str, Any]) -> list[str]:
    """The released architecture's tables: stages, network variants, live path."""
    flops = result["flops"]
    lines: list[str] = []
    paths = result["paths"]
    base, opt = paths["baseline"], paths["optimised"]
    others = [name for name in paths if name != "baseline"]  # optimised, then e.g. "fastest"
    lines += ["| stage | baseline ms | " + " | ".join(f"{n} ms | speed-up" for n in others) + " |",
              "|---|---:|" + "---:|---:|" * len(others)]
    for stage in (*STAGES, "total"):
        b = base["total"] if stage == "total" else base["stages"][stage]
        cells = []
        for other in others:
            o = paths[other]["total"] if stage == "total" else paths[other]["stages"][stage]
            ratio = b["median"] / o["median"] if o["median"] > 0 else float("inf")
            cells.append(f"{_ms(o)} | {ratio:.2f}x")
        name = f"**{stage}**" if stage == "total" else stage
        lines.append(f"| {name} | {_ms(b)} | " + " | ".join(cells) + " |")
    fa = opt["faithfulness"]
    summary = (
        f"Baseline: {base['description']}. Optimised: {opt['description']}. "
        f"Meshing + bump removal: {_mesh_share(opt):.0f}% of the optimised total. "
        f"`Reconstructor.reconstruct` with the optimised options: {_ms(result['reconstruct']['total'])} ms "
        f"(no export). Optimised vs baseline: occupied-voxel IoU {fa['occupied_iou']:.5f}, "
        f"mesh distance mean {fa.get('mesh_mean_px', 0):.4f} / max {fa.get('mesh_max_px', 0):.4f} px, "
        f"{opt['mesh_vertices']} vs {base['mesh_vertices']} vertices."
    )
    if "fastest" in paths:
        fast = paths["fastest"]
        ff = fast["faithfulness"]
        summary += (
            f" Fastest: {fast['description']}; meshing + bump removal {_mesh_share(fast):.0f}% of its total;"
            f" vs baseline occupied-voxel IoU {ff['occupied_iou']:.5f}, mesh distance mean "
            f"{ff.get('mesh_mean_px', 0):.4f} / max {ff.get('mesh_max_px', 0):.4f} px."
        )
    lines += [
        summary,
        "",
        f"FLOP bound: {flops['gflop_per_face']} GFLOP ({flops['gmac_per_face']} GMAC) per face; measured fp32 "
        f"matmul peak {flops['measured_matmul_tflops']} TFLOP/s gives at least {flops['bound_ms']} ms per forward"
        + (
            f"; fp16 matmul peak {flops['measured_fp16_matmul_tflops']} TFLOP/s, at least {flops['fp16_bound_ms']} ms."
            if "fp16_bound_ms" in flops
            else f"; int8 matmul peak {flops['measured_int8_matmul_tops']} TOP/s, at least {flops['int8_bound_ms']} ms."
            if "int8_bound_ms" in flops else "."
        ),
        "",
        "| network variant | per crop ms | first call s | max abs Δp | voxel IoU | mesh mean / max px |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for v in result["network_variants"]:
        if "error" in v:
            lines.append(f"| {v['name']} | failed: {v['error'][:120]} | | | | |")
            continue
        f = v["faithfulness"]
        lines.append(
            f"| {v['name']} | {_ms(v['per_crop_ms'])} | {v['first_call_s']} | {f['max_abs_probability']:.2g} "
            f"| {f['occupied_iou']:.5f} | {f.get('mesh_mean_px', 0):.4f} / {f.get('mesh_max_px', 0):.3f} |"
        )
    if result.get("live"):
        lines += ["", "| live path (video file, real time) | meshes/s | latency ms | frames delivered |",
                  "|---|---:|---:|---:|"]
        for run in result["live"]:
            if "fps" in run:
                lines.append(f"| {run['name']} | {run['fps']} | {_ms(run['latency_ms'])} | {run['frames_delivered']} |")
            else:
                lines.append(f"| {run['name']} | – | {run.get('error', 'too few meshes')} | – |")
    return lines


def _product_lines(result: dict[str, Any]) -> list[str]:
    """The product path's tables: stages per landmarker, its live loop, the profile's top."""
    product = result["product"]
    if "error" in product:
        return [f"Product path: not measured ({product['error']})."]
    paths = product["paths"]
    names = list(paths)
    lines = [
        (f"Product path: model `{product['model']}`, {product['smooth']} smoothing iterations, "
         f"photo {product['photo']}; one Reconstructor per landmarker, interleaved."),
        "",
        "| stage | " + " | ".join(f"{name} ms" for name in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for stage in paths[names[0]]["stages"]:
        lines.append(f"| {stage} | " + " | ".join(_ms(paths[n]["stages"][stage]) for n in names) + " |")
    for total, label in (("to_mesh", "photo to mesh (all but clean)"), ("total", "with smoothing")):
        lines.append(f"| **{label}** | " + " | ".join(_ms(paths[n][total]) for n in names) + " |")
    if product.get("speedup_mediapipe_over_dlib"):
        lines += ["", f"Photo to mesh, dlib over mediapipe: {product['speedup_mediapipe_over_dlib']}x."]
    for name, why in product["unavailable"].items():
        lines += ["", f"{name}: not measured ({why})."]
    if result.get("product_live"):
        lines += ["", "| product live loop (video file, real time) | meshes/s | latency ms |", "|---|---:|---:|"]
        for run in result["product_live"]:
            fps = run.get("fps", "–")
            latency = _ms(run["latency_ms"]) if "latency_ms" in run else run.get("error", "too few meshes")
            lines.append(f"| {run['name']} | {fps} | {latency} |")
    profile = product["profile"]
    lines += ["", f"Profile of the {profile['landmarker']} path (cProfile, per photo, by own time):", "",
              "| function | calls | own ms | cumulative ms |", "|---|---:|---:|---:|"]
    for row in profile["functions"]:
        lines.append(f"| `{row['function']}` | {row['calls']} | {row['own_ms']} | {row['cumulative_ms']} |")
    return lines


def format_summary(results: list[dict[str, Any]]) -> str:
    """One table, a row per stage, baseline and optimised medians of several results side by side."""
    names = [r["environment"].get("gpu") or r["environment"]["cpu"] for r in results]
    head = "| stage | " + " | ".join(f"{n} baseline | {n} optimised | speed-up" for n in names) + " |"
    lines = [head, "|---|" + "---:|" * (3 * len(results))]
    for stage in (*STAGES, "total"):
        cells = []
        for r in results:
            b, o = (r["paths"][p]["total" if stage == "total" else "stages"] for p in ("baseline", "optimised"))
            b, o = (b if stage == "total" else b[stage]), (o if stage == "total" else o[stage])
            given = stage in ("detection", "landmarks") and r["settings"].get("landmarks_given")
            ratio = "given" if given else f"{b['median'] / o['median']:.2f}x" if o["median"] > 0 else "–"
            cells.append(f"{b['median']:.1f} | {o['median']:.1f} | {ratio}")
        lines.append(f"| {'**total**' if stage == 'total' else stage} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
