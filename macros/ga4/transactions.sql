{#- SQL: the transaction id of record of a conversion event, from its
    ecommerce.transaction_id (`column`); '(not set)' and empty are not ids (pitfall 10). -#}
{% macro ga4_transaction_id(column) -%}
    case
        when trim({{ column }}) in ('', '(not set)') then null
        else {{ column }}
    end
{%- endmacro %}
