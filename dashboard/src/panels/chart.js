// The area's time series: ECharts with only the parts used (line chart, grid, tooltip, legend).
import * as echarts from 'echarts/core';
import { LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { t } from '../i18n.js';

echarts.use([LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

let chart = null;

export function drawSeries(container, series) {
  if (!chart || chart.getDom() !== container) {
    chart?.dispose();
    chart = echarts.init(container, null, { renderer: 'canvas' });
    new ResizeObserver(() => chart?.resize()).observe(container);
  }
  const x = series.points.map((p) => String(p.start).slice(0, 10));
  const line = (key, name, colour) => ({
    name, type: 'line', showSymbol: false, smooth: false, data: series.points.map((p) => p[key]),
    lineStyle: { width: 2 }, itemStyle: { color: colour },
  });
  chart.setOption({
    animation: false,
    grid: { left: 44, right: 12, top: 30, bottom: 24 },
    tooltip: { trigger: 'axis' },
    legend: { top: 0, textStyle: { fontSize: 11 } },
    xAxis: { type: 'category', data: x, axisLabel: { fontSize: 10 } },
    yAxis: { type: 'value', axisLabel: { fontSize: 10 } },
    series: [
      line('reported', t('chart.reported'), '#e34a33'),
      line('resolved', t('chart.resolved'), '#31a354'),
      line('open_at_end', t('chart.open'), '#3b6ea8'),
    ],
  }, true);
}
