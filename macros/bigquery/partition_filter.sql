{#- A predicate on a table's partition column that keeps every partition. BigQuery rejects any
    query (and DML) on a table with require_partition_filter (the events mart) unless it
    filters the partition column in a way the pruner can use; this is that filter. Other
    engines have no such rule: none (callers then add nothing, or `true`). -#}
{% macro truffle_every_partition_filter(column) -%}
    {{ return(adapter.dispatch('truffle_every_partition_filter', 'random_truffle')(column)) }}
{%- endmacro %}

{% macro default__truffle_every_partition_filter(column) -%}
    {{ return(none) }}
{%- endmacro %}

{% macro bigquery__truffle_every_partition_filter(column) -%}
    {{ return(column ~ " >= date '1900-01-01'") }}
{%- endmacro %}


{#- dbt's data tests read the tested model through get_where_subquery. On BigQuery, a model
    with require_partition_filter read without a window (whole-history checks) is read with
    the every-partition filter added, or BigQuery refuses the test query. So is a view over
    such a model (the events and items marts), on the column it declares as its window. -#}
{% macro bigquery__get_where_subquery(relation) -%}
    {%- set predicates = truffle_test_predicates(relation) -%}
    {%- set column = truffle_required_partition_column(truffle_model_node(relation)) -%}
    {%- if column and not truffle_check_window_predicate('x') -%}
        {%- do predicates.append(truffle_every_partition_filter(column)) -%}
    {%- endif -%}
    {{ return(truffle_filtered_relation(relation, predicates)) }}
{%- endmacro %}

{#- The partition column a query of the model must filter: its own (require_partition_filter),
    or, for a view, its `meta.window_column` when a model it reads requires a filter on it. -#}
{% macro truffle_required_partition_column(node) -%}
    {%- if not node -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if node.config.get('require_partition_filter') and node.config.get('partition_by') -%}
        {{ return(node.config.get('partition_by').get('field')) }}
    {%- endif -%}
    {%- set column = (node.config.get('meta') or {}).get('window_column') -%}
    {%- if node.config.get('materialized') == 'view' and column -%}
        {%- for upstream in node.depends_on.nodes if upstream in graph.nodes -%}
            {%- if truffle_required_partition_column(graph.nodes[upstream]) == column -%}
                {{ return(column) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}


{#- dbt checks an enforced contract by running the model's query with `where false limit 0`.
    BigQuery refuses that for a view over a table with require_partition_filter (the events
    and items marts over the stored facts), so the check's query carries the every-partition
    filter on the view's window column: it reads nothing either way. dbt-bigquery's own
    `bigquery__get_empty_subquery_sql` (adapters/columns.sql, 1.11) otherwise unchanged; it can
    go if dbt-bigquery checks contracts from the dry-run schema instead of running a query. -#}
{% macro bigquery__get_empty_subquery_sql(select_sql, select_sql_header=none) -%}
    {%- set column = truffle_required_partition_column(model) if model is defined and model else none -%}
    {%- if select_sql_header is not none -%}
    {{ select_sql_header }}
    {%- endif -%}
    select * from (
        {{ select_sql }}
    ) as __dbt_sbq
    where false and current_timestamp() = current_timestamp()
    {%- if column %}
        and {{ truffle_every_partition_filter(column) }}
    {%- endif %}
    limit 0
{%- endmacro %}
