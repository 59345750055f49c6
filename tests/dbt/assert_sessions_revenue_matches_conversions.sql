{#- Revenue is counted once per conversion: the sessions mart's revenue must equal the
    conversions that belong to a session, per reporting currency (within the sessions'
    retention: purchases are kept longer than the sessions they happened in), to the last
    digit (money is an exact decimal). On window checks:
    the sessions that began in the window and their conversions. -#}

with

from_sessions as (
    select
        coalesce(sum(revenue_usd), 0) as revenue_usd,
        coalesce(sum(revenue_mxn), 0) as revenue_mxn,
        coalesce(sum(revenue_cop), 0) as revenue_cop
    from {{ ref('sessions') }}
    where
        session_start_date >= {{ ga4_retention_cutoff('user_activity') }}
        and {{ truffle_check_scope('session_start_date') }}
),

from_conversions as (
    select
        coalesce(sum(revenue_usd), 0) as revenue_usd,
        coalesce(sum(revenue_mxn), 0) as revenue_mxn,
        coalesce(sum(revenue_cop), 0) as revenue_cop
    from {{ ref('conversions') }}
    where
        session_key is not null
        -- up to the last day of the window's sessions
        and {{ truffle_check_scope('conversion_date', days_after=truffle_check_conversion_days_after()) }}
        and session_key in (
            select kept_sessions.session_key from {{ ref('sessions') }} as kept_sessions
            where
                kept_sessions.session_start_date >= {{ ga4_retention_cutoff('user_activity') }}
                and {{ truffle_check_scope('kept_sessions.session_start_date') }}
        )
)

select
    from_sessions.*,
    from_conversions.revenue_usd as conversions_revenue_usd,
    from_conversions.revenue_mxn as conversions_revenue_mxn,
    from_conversions.revenue_cop as conversions_revenue_cop
from from_sessions
cross join from_conversions
where
    from_sessions.revenue_usd != from_conversions.revenue_usd
    or from_sessions.revenue_mxn != from_conversions.revenue_mxn
    or from_sessions.revenue_cop != from_conversions.revenue_cop
