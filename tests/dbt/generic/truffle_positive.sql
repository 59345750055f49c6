{#- Fails on rows where the column is zero or negative (nulls are not_null's business). -#}
{% test truffle_positive(model, column_name) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} <= 0

{% endtest %}
