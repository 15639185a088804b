#!/usr/bin/env python3
"""Turns one bench_operators JSON run into the tables of docs/benchmarks.md and a PNG chart.

usage: bench/report.py RUN.json OUT_DIR
writes OUT_DIR/tables.md (to paste into docs/benchmarks.md), OUT_DIR/benchmarks.dat and
OUT_DIR/benchmarks.png (gnuplot); docs/ keeps copies of the last two.
"""
import json
import os
import re
import subprocess
import sys

# The targets of the speed issue at n = 2^24, as (column, minimum ratio t_memcpy / t_op):
# 'cd' = compress + decompress, 'c' = compress, 'add' = decompress_add.
TARGETS = {
    **{op: [('cd', 1.0)] for op in ('fp16', 'bf16', 'scaled_sign', 'sign', 'onebit')},
    **{op: [('cd', 0.5)] for op in ('qsgd', 'qsgd_packed', 'terngrad', 'natural',
                                     'natural_dithering', 'random_dithering', 'fp16_sr',
                                     'bf16_sr', 'uniform8', 'uniform8_sr', 'threshold')},
    'top_k': [('cd', 0.25), ('add', 5.0)],
    'rand_k': [('c', 5.0), ('add', 5.0)],
}
# Table order: recipes.hpp's, then the other registered operators.
ORDER = ['fp32', 'fp16', 'bf16', 'fp16_sr', 'bf16_sr', 'top_k', 'rand_k', 'qsgd', 'qsgd_packed',
         'scaled_sign', 'topk_qsgd', 'natural', 'natural_dithering', 'terngrad', 'uniform8',
         'uniform8_sr', 'threshold', 'dgc_top_k', 'adaptive_rand', 'sign', 'onebit', 'qsgd_rans']


def load(path):
    runs = json.load(open(path))
    t, bits = {}, {}
    for b in runs['benchmarks']:
        if b.get('run_type') == 'aggregate' and b.get('aggregate_name') != 'median':
            continue
        name = re.sub(r'/min_time:[0-9.]+', '', b['run_name'] if 'run_name' in b else b['name'])
        *key, n = name.split('/')
        key, n = '/'.join(key), int(n)
        t[(key, n)] = b['real_time'] * {'ms': 1e-3, 'us': 1e-6, 'ns': 1e-9}[b['time_unit']]
        if 'bits_per_elem' in b:
            bits[(key, n)] = b['bits_per_elem']
    return runs['context'], t, bits


def main():
    context, t, bits = load(sys.argv[1])
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    sizes = sorted({n for (_, n) in t})
    ops = []
    for (key, _) in t:
        if key.startswith('compress/') and key[9:] not in ops:
            ops.append(key[9:])
    threaded = [op for op in ops if re.fullmatch(r'chunked_.+_t\d+', op)]
    threaded.sort(key=lambda op: (ORDER.index(op[8:op.rindex('_t')]) if op[8:op.rindex('_t')] in ORDER else len(ORDER), op))
    ops = [op for op in ops if op not in threaded]
    ops.sort(key=lambda op: (ORDER.index(op) if op in ORDER else len(ORDER), op))
    lines = []
    p = lines.append
    p('| operator | n | ns/element | GB/s | c+d ratio | target | compress ratio | decompress_add ratio '
      '| bits/element | scalar baseline ratio |')
    p('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    dat = []
    for op in ops:
        row = []
        for n in sizes:
            m = t[('bm_memcpy', n)]
            c, d, a = (t.get((k + '/' + op, n)) for k in ('compress', 'decompress', 'decompress_add'))
            cd = c + d
            base = t.get(('baseline/' + op, n))
            got = {'cd': m / cd, 'c': m / c, 'add': m / a}
            tgt = ' · '.join(f"{k} >= {v:g} {'met' if got[k] >= v else 'missed'}"
                             for k, v in TARGETS.get(op, [])) if n == sizes[-1] else ''
            base_ratio = f'{m / base:.3g}' if base else ''
            p(f'| {op} | 2^{n.bit_length() - 1} | {cd / n * 1e9:.3g} | {4 * n / cd / 1e9:.3g} | '
              f'{m / cd:.3g} | {tgt} | {m / c:.3g} | {m / a:.3g} | '
              f'{bits[("compress/" + op, n)]:.4g} | {base_ratio} |')
            row.append(m / cd)
        dat.append(f'"{op}" ' + ' '.join(f'{r:.5g}' for r in row))
    p('')
    p('| n | memcpy ms | memcpy GB/s |')
    p('|---:|---:|---:|')
    for n in sizes:
        m = t[('bm_memcpy', n)]
        p(f'| 2^{n.bit_length() - 1} | {m * 1e3:.4g} | {4 * n / m / 1e9:.3g} |')
    if threaded:
        p('')
        p('| chunked operator (chunks of 2^20) | n | threads | compress ms | decompress ms '
          '| decompress_add ms | c+d ratio | c+d speed-up over 1 thread |')
        p('|---|---:|---:|---:|---:|---:|---:|---:|')
        for op in threaded:
            base, threads = re.fullmatch(r'chunked_(.+)_t(\d+)', op).groups()
            for n in sizes:
                if ('compress/' + op, n) not in t:
                    continue
                m = t[('bm_memcpy', n)]
                c, d, a = (t[(k + '/' + op, n)] for k in ('compress', 'decompress', 'decompress_add'))
                c1, d1 = (t[(k + '/chunked_' + base + '_t1', n)] for k in ('compress', 'decompress'))
                p(f'| {base} | 2^{n.bit_length() - 1} | {threads} | {c * 1e3:.3g} | {d * 1e3:.3g} | '
                  f'{a * 1e3:.3g} | {m / (c + d):.3g} | {(c1 + d1) / (c + d):.2f} |')
    coders = sorted({key.split('/', 1)[1] for (key, _) in t if key.startswith('encode/')})
    if coders:
        p('')
        p('| encoder (stream) | n | encode ms | decode ms | encoded bytes | encode GB/s out '
          '| decode GB/s in |')
        p('|---|---:|---:|---:|---:|---:|---:|')
        for coder in coders:
            for n in sizes:
                if ('encode/' + coder, n) not in t:
                    continue
                te, td = t[('encode/' + coder, n)], t[('decode/' + coder, n)]
                size = bits[('encode/' + coder, n)] * n / 8
                p(f'| {coder} | 2^{n.bit_length() - 1} | {te * 1e3:.3g} | {td * 1e3:.3g} | '
                  f'{size:.0f} | {size / te / 1e9:.3g} | {size / td / 1e9:.3g} |')
    open(out + '/tables.md', 'w').write('\n'.join(lines) + '\n')
    open(out + '/benchmarks.dat', 'w').write(
        '# operator ' + ' '.join(f'ratio_2^{n.bit_length() - 1}' for n in sizes) + '\n' +
        '\n'.join(dat) + '\n')
    plot = ', '.join(f"'{out}/benchmarks.dat' using {i + 2}:xtic(1) title 'n = 2^{n.bit_length() - 1}'"
                     for i, n in enumerate(sizes))
    script = f"""set terminal pngcairo size 1400,600 noenhanced
set output '{out}/benchmarks.png'
set title 'compress + decompress, speed relative to memcpy of the same 4n bytes (1 = as fast as one copy)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set yrange [0.002:20]
set ylabel 't(memcpy) / t(compress + decompress)'
set xtics rotate by -45 scale 0
set grid ytics
set key top left
plot {plot}, 1 with lines dashtype 2 lc rgb 'black' title 'memcpy'
"""
    subprocess.run(['gnuplot'], input=script.encode(), check=True)
    print(f"{context.get('date')}: wrote {out}/tables.md, benchmarks.dat and benchmarks.png")


if __name__ == '__main__':
    main()
